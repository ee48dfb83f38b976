"""End to end on PostgreSQL + Redis + SeaweedFS with real API and Celery worker processes:
jobs through HTTP, presigned downloads, signed webhooks, a SIGKILLed worker, a Redis restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from services import WEBHOOK_SECRET, Stack

from workers.webhooks import SIGNATURE_HEADER, verify_signature

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JOB_TIMEOUT = 240
OPTIONS = {"size": 256, "fps": 25}


def upload(stack: Stack, kind: str, path: Path) -> str:
    with path.open("rb") as f:
        r = httpx.post(
            f"{stack.base_url}/api/v1/upload/{kind}",
            files={"file": (path.name, f)},
            headers=stack.headers,
            timeout=30,
        )
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture(scope="module")
def inputs(stack: Stack, astronaut_png: Path, speech_wav: Path) -> dict[str, str]:
    return {"image_id": upload(stack, "image", astronaut_png), "audio_id": upload(stack, "audio", speech_wav)}


def submit(stack: Stack, inputs: dict[str, str], **extra: object) -> str:
    body = {**inputs, "options": OPTIONS, "webhook_url": stack.hooks.url, **extra}
    r = httpx.post(f"{stack.base_url}/api/v1/jobs", json=body, headers=stack.headers, timeout=30)
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


def job(stack: Stack, job_id: str) -> dict:
    r = httpx.get(f"{stack.base_url}/api/v1/jobs/{job_id}", headers=stack.headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def wait_terminal(stack: Stack, job_ids: list[str], timeout: float = JOB_TIMEOUT) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = {j: job(stack, j) for j in job_ids}
        if all(v["status"] in ("succeeded", "failed", "cancelled") for v in jobs.values()):
            return jobs
        time.sleep(1)
    pending = {j: (v["status"], v["current_node"]) for j, v in jobs.items() if v["status"] in ("queued", "running")}
    raise AssertionError(f"jobs still active after {timeout}s: {pending}\ncpu worker log:\n{stack.cpu_worker.tail()}")


def hooks_for(stack: Stack, job_id: str) -> list[dict]:
    return [json.loads(body) for _, body in stack.hooks.calls if json.loads(body)["job_id"] == job_id]


def wait_hooks(stack: Stack, job_ids: list[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(hooks_for(stack, j) for j in job_ids):
        time.sleep(0.2)


def test_ten_jobs_succeed_with_presigned_results_and_signed_webhooks(stack: Stack, inputs: dict[str, str]):
    job_ids = [submit(stack, inputs, options={**OPTIONS, "seed": i}) for i in range(10)]
    jobs = wait_terminal(stack, job_ids)
    assert {j: v["status"] for j, v in jobs.items()} == {j: "succeeded" for j in job_ids}, jobs

    for job_id, info in jobs.items():
        assert info["progress"] == 1.0 and info["backend"] and info["error"] is None
        assert {"audio_processing", "video_generation", "finalize"} <= set(info["timings"])
        r = httpx.get(f"{stack.base_url}/api/v1/jobs/{job_id}/result", headers=stack.headers, timeout=30)
        assert r.status_code == 307
        presigned = r.headers["location"]
        assert "X-Amz-Signature=" in presigned
        video = httpx.get(presigned, timeout=30)
        assert video.status_code == 200 and video.content[4:8] == b"ftyp" and len(video.content) > 1000
        assert httpx.get(presigned.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=30).status_code == 403

    wait_hooks(stack, job_ids)
    for headers, body in stack.hooks.calls:
        assert verify_signature(WEBHOOK_SECRET, body, headers[SIGNATURE_HEADER])
        assert not verify_signature("wrong-secret", body, headers[SIGNATURE_HEADER])
    for job_id in job_ids:
        (hook,) = hooks_for(stack, job_id)
        assert hook["status"] == "succeeded" and hook["error"] is None
        assert httpx.get(hook["result_url"], timeout=30).content[4:8] == b"ftyp"


def test_a_gpu_backend_hops_cpu_gpu_cpu(stack: Stack, inputs: dict[str, str]):
    from sqlalchemy import create_engine, text

    from core.db import sqlalchemy_url

    job_id = submit(stack, inputs, options={**OPTIONS, "backend": "wav2lip", "enhancer": "none"})
    info = wait_terminal(stack, [job_id])[job_id]
    assert info["status"] == "succeeded" and info["backend"] == "wav2lip", info
    engine = create_engine(sqlalchemy_url(stack.db_url))
    with engine.connect() as conn:  # two hand-offs: cpu -> gpu, gpu -> cpu
        assert conn.execute(text("SELECT segments FROM jobs WHERE id = :id"), {"id": job_id}).scalar() == 2
    engine.dispose()
    assert f"job {job_id}: running gpu segment" in stack.gpu_worker.tail(100_000)


def test_worker_killed_mid_job_is_resumed_and_finishes_once(stack: Stack, inputs: dict[str, str]):
    job_id = submit(stack, inputs, options={**OPTIONS, "seed": 100})
    deadline = time.monotonic() + 120
    while (info := job(stack, job_id))["current_node"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert info["status"] == "running", info
    stack.cpu_worker.kill()  # SIGKILL: no acknowledgement, no cleanup
    time.sleep(1)
    assert job(stack, job_id)["status"] == "running"  # the row still says running; nobody holds it alive
    stack.cpu_worker = stack.worker("cpu", "cpu2")

    info = wait_terminal(stack, [job_id])[job_id]
    assert info["status"] == "succeeded", info
    assert info["attempts"] >= 2  # the killed attempt and the resumed one
    wait_hooks(stack, [job_id])
    time.sleep(3)  # a duplicate finish would show up as a second webhook
    assert len(hooks_for(stack, job_id)) == 1


def test_redis_restart_with_jobs_queued_loses_none(stack: Stack, inputs: dict[str, str]):
    stack.cpu_worker.stop()
    job_ids = [submit(stack, inputs, options={**OPTIONS, "seed": 200 + i}) for i in range(3)]
    assert all(job(stack, j)["status"] == "queued" for j in job_ids)
    stack.redis.restart()  # the queued messages are gone; the job rows remain
    stack.cpu_worker = stack.worker("cpu", "cpu3")

    jobs = wait_terminal(stack, job_ids)
    assert [v["status"] for v in jobs.values()] == ["succeeded"] * 3, jobs
    # the API's broker connection recovered too
    after = submit(stack, inputs, options={**OPTIONS, "seed": 300})
    assert wait_terminal(stack, [after])[after]["status"] == "succeeded"
