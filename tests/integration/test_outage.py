"""Outages are 503s: with the database (a private PostgreSQL cluster, stopped mid-test) or the broker (a private
Redis) down, every endpoint that needs it answers 503 + Retry-After + the error body, and the API recovers by
itself when the service returns. Submits while only the broker is down are accepted: the database is the truth."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from services import (
    PrivatePostgres,
    Process,
    RedisServer,
    api_server,
    private_postgres,
    redis_server,
    service_env,
    wait_until,
)

from models.audio.io import encode_wav

DB_TIMEOUT_S = 2


def _wav() -> bytes:
    return encode_wav(np.tile([0.125, -0.125], 8000))  # 1 s of an 8 kHz square wave: a decodable upload


@pytest.fixture(scope="module")
def outage_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, PrivatePostgres, RedisServer, Process]]:
    workdir = tmp_path_factory.mktemp("outage")
    with private_postgres() as pg, redis_server(workdir / "redis") as redis:
        env = service_env(
            {
                "AVATAR_DATA_DIR": str(workdir / "data"),
                "AVATAR_DATABASE_URL": pg.url(),
                "AVATAR_BROKER_URL": redis.url,
                "AVATAR_WEBHOOK_SECRET": "whsec-outage-test",
                "AVATAR_DATABASE_TIMEOUT_SECONDS": str(DB_TIMEOUT_S),
            }
        )
        subprocess.run([sys.executable, "-c", "from core.db import migrate; migrate()"], env=env, check=True)
        api, base = api_server(env, workdir / "api.log")
        try:
            yield base, pg, redis, api
        finally:
            api.stop()


def _unavailable(response: httpx.Response, what: str) -> None:
    assert response.status_code == 503, (response.request.url, response.status_code, response.text)
    assert int(response.headers["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["code"] == "service_unavailable" and what in error["message"], error


def test_a_database_outage_is_503_everywhere_and_the_api_recovers(outage_stack, astronaut_png: Path):
    base, pg, _, api = outage_stack
    client = httpx.Client(base_url=base, timeout=30)
    image = client.post("/api/v1/upload/image", files={"file": ("face.png", astronaut_png.read_bytes())}).json()
    audio = client.post("/api/v1/upload/audio", files={"file": ("voice.wav", _wav())}).json()
    job = client.post("/api/v1/jobs", json={"image_id": image["id"], "audio_id": audio["id"]}).json()["job_id"]

    pg.stop()
    requests = [
        ("GET", "/api/v1/jobs", {}),
        ("GET", f"/api/v1/jobs/{job}", {}),
        ("GET", f"/api/v1/jobs/{job}/result", {}),
        ("DELETE", f"/api/v1/jobs/{job}", {}),
        ("POST", "/api/v1/jobs", {"json": {"image_id": image["id"], "text": "Hello."}}),
        ("POST", "/api/v1/generate", {"json": {"image_path": image["path"], "text": "Hello."}}),
        ("POST", "/api/v1/upload/audio", {"files": {"file": ("other.wav", _wav() + b"\x00\x00")}}),
        ("GET", "/api/v1/stats/dashboard", {}),
        ("GET", "/api/v1/stats/performance", {}),
        ("GET", "/metrics", {}),
    ]
    for method, path, kwargs in requests:
        _unavailable(client.request(method, path, **kwargs), "database")
    ready = client.get("/readyz")
    _unavailable(ready, "database")
    assert ready.json()["error"]["checks"]["database"] is False
    assert client.get("/healthz").status_code == 200  # the process itself is fine

    pg.start()
    wait_until(lambda: client.get("/api/v1/jobs").status_code == 200, 15, "the API after the database returned")
    assert client.get("/readyz").status_code == 200
    assert client.get(f"/api/v1/jobs/{job}").json()["status"] == "queued"
    assert "Traceback" not in api.tail(100_000)  # outages are logged as one line each, not as crashes


def test_submits_while_the_broker_is_down_are_accepted(outage_stack, astronaut_png: Path):
    base, _, redis, _ = outage_stack
    client = httpx.Client(base_url=base, timeout=30)
    image = client.post("/api/v1/upload/image", files={"file": ("face.png", astronaut_png.read_bytes())}).json()
    assert redis.proc is not None
    redis.proc.terminate()
    redis.proc.wait()
    try:
        started = time.perf_counter()
        accepted = client.post("/api/v1/jobs", json={"image_id": image["id"], "text": "Hello there."})
        submit_seconds = time.perf_counter() - started
        assert accepted.status_code == 202, accepted.text
        assert client.get(f"/api/v1/jobs/{accepted.json()['job_id']}").json()["status"] == "queued"
        assert submit_seconds < 10
        ready = client.get("/readyz")
        _unavailable(ready, "broker")
        assert ready.json()["error"]["checks"] == {"database": True, "storage": True, "broker": False}
    finally:
        redis.start()
    wait_until(lambda: client.get("/readyz").status_code == 200, 15, "readyz after the broker returned")


def test_a_statement_blocked_by_a_lock_fails_after_the_timeout_and_the_job_is_kept(
    outage_stack, astronaut_png: Path, monkeypatch: pytest.MonkeyPatch
):
    import psycopg
    from sqlalchemy.exc import OperationalError

    from core.jobs import get_job
    from core.settings import get_settings
    from workers.retry import verdict

    base, pg, _, _ = outage_stack
    client = httpx.Client(base_url=base, timeout=30)  # a hang shows as a ReadTimeout
    image = client.post("/api/v1/upload/image", files={"file": ("face.png", astronaut_png.read_bytes())}).json()
    job = client.post("/api/v1/jobs", json={"image_id": image["id"], "text": "Hello."}).json()["job_id"]
    monkeypatch.setenv("AVATAR_DATABASE_URL", pg.url())
    monkeypatch.setenv("AVATAR_DATABASE_TIMEOUT_SECONDS", str(DB_TIMEOUT_S))
    get_settings.cache_clear()
    submit = {"json": {"image_id": image["id"], "text": "Hi."}, "headers": {"Idempotency-Key": "locked-out"}}
    # another session holds the jobs table: every statement on it waits for the lock, which never comes
    with psycopg.connect(pg.url()) as holder, ThreadPoolExecutor(1) as pool:
        holder.execute("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
        try:
            _unavailable(client.get(f"/api/v1/jobs/{job}"), "database")
            _unavailable(client.post("/api/v1/jobs", **submit), "database")
            # a worker's read: a clear error, classed as an outage (the segment is retried, the job not failed)
            with pytest.raises(OperationalError, match="canceling statement due to statement timeout") as err:
                pool.submit(get_job, job).result(timeout=30)
            assert verdict(err.value, retries=0).retry
        finally:
            holder.rollback()
            get_settings.cache_clear()

    assert client.get(f"/api/v1/jobs/{job}").json()["status"] == "queued"  # the job is where it was
    again = client.post("/api/v1/jobs", **submit)  # the refused submit, retried with its key: one job
    assert again.status_code == 202 and client.post("/api/v1/jobs", **submit).json() == again.json()
