"""The reconciler against a real Redis broker: a job that merely waits in a long queue keeps its one message,
and a message the broker lost (removed, Redis restarted, taken by a worker that died) is published again.

A real API server submits the jobs and nobody consumes them; `avatar reconcile` runs as its own process."""

from __future__ import annotations

import ast
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis
from services import WEBHOOK_SECRET, RedisServer, api_server, avatar, redis_server, service_env
from sqlalchemy import delete, update

from core.db import Job, session_scope, utcnow

pytestmark = pytest.mark.integration

STALL = 60  # seconds; the tests age jobs past it instead of waiting


@dataclass
class Broker:
    base_url: str
    env: dict[str, str]
    db_url: str
    redis: RedisServer
    image_id: str

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis.url)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, astronaut_png: Path) -> Iterator[Broker]:
    workdir = tmp_path_factory.mktemp("reconciler")
    with redis_server(workdir / "redis") as server:
        env = service_env(
            {
                "AVATAR_DATA_DIR": str(workdir / "data"),
                "AVATAR_BROKER_URL": server.url,
                "AVATAR_WEBHOOK_SECRET": WEBHOOK_SECRET,
            }
        )
        api, base_url = api_server(env, workdir / "api.log")
        try:
            with astronaut_png.open("rb") as f:
                r = httpx.post(f"{base_url}/api/v1/upload/image", files={"file": ("face.png", f)}, timeout=30)
            assert r.status_code == 201, r.text
            db_url = f"sqlite:///{workdir / 'data' / 'avatar.db'}"
            yield Broker(base_url, env, db_url, server, r.json()["id"])
        finally:
            api.stop()


@pytest.fixture
def fresh(broker: Broker) -> Broker:
    """No jobs and no messages left from an earlier test."""
    broker.client().flushdb()
    with session_scope(broker.db_url) as session:
        session.execute(delete(Job))
    return broker


def submit(broker: Broker, n: int) -> list[str]:
    ids = []
    for i in range(n):
        body = {"image_id": broker.image_id, "text": "Hello.", "options": {"seed": i}}
        r = httpx.post(f"{broker.base_url}/api/v1/jobs", json=body, timeout=30)
        assert r.status_code == 202, r.text
        ids.append(r.json()["job_id"])
    return ids


def age(broker: Broker, ids: list[str], **values: object) -> None:
    """Make the jobs look published (or, with a lease, heartbeating) an hour ago."""
    with session_scope(broker.db_url) as session:
        session.execute(update(Job).where(Job.id.in_(ids)).values(heartbeat_at=utcnow() - timedelta(hours=1), **values))


def queued(broker: Broker) -> list[str]:
    """Job ids of the segment messages in the cpu queue, oldest first (read from each message's argsrepr)."""
    raw = broker.client().lrange("cpu", 0, -1)
    return [ast.literal_eval(json.loads(m)["headers"]["argsrepr"])[0] for m in reversed(raw)]


def reconcile(broker: Broker, **env: str) -> list[str]:
    command = avatar("reconcile", "--stall-seconds", str(STALL))
    done = subprocess.run(command, env={**broker.env, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    line = done.stdout.strip().splitlines()[-1]  # "re-enqueued N stalled job(s)[: id, id]"
    return line.split(": ", 1)[1].split(", ") if ": " in line else []


def test_jobs_waiting_in_a_long_queue_are_left_alone(fresh: Broker):
    ids = submit(fresh, 3)
    assert queued(fresh) == ids
    age(fresh, ids)
    assert reconcile(fresh) == []
    assert queued(fresh) == ids  # no duplicate messages


def test_a_lost_message_is_published_again_once(fresh: Broker):
    a, b, c = submit(fresh, 3)
    client = fresh.client()
    (message,) = [m for m in client.lrange("cpu", 0, -1) if b in json.loads(m)["headers"]["argsrepr"]]
    assert client.lrem("cpu", 1, message) == 1
    age(fresh, [a, b, c])
    assert reconcile(fresh) == [b]
    assert queued(fresh) == [a, c, b]
    age(fresh, [a, b, c])
    assert reconcile(fresh) == []  # its new message is there now


def test_a_message_a_live_worker_holds_counts_and_one_a_dead_worker_holds_does_not(fresh: Broker):
    from kombu import Connection

    (job_id,) = submit(fresh, 1)
    with Connection(fresh.redis.url) as connection:
        taken = connection.default_channel.basic_get("cpu", no_ack=False)  # reserved, not acknowledged
        assert taken is not None and queued(fresh) == []
        age(fresh, [job_id])
        assert reconcile(fresh) == []
        client = fresh.client()
        (tag,) = client.hkeys("unacked")
        client.zadd("unacked_index", {tag: time.time() - 3600})  # taken an hour ago, job never claimed
        assert reconcile(fresh) == [job_id]
        assert queued(fresh) == [job_id]


def test_a_dead_workers_job_follows_the_heartbeat_rule(fresh: Broker):
    (job_id,) = submit(fresh, 1)
    age(fresh, [job_id], status="running", lease_owner="host:1:dead")
    assert reconcile(fresh) == [job_id]  # its lease went stale: re-sent whatever the queue holds
    assert queued(fresh) == [job_id, job_id]  # the stale message is dropped by the lease when it arrives


def test_a_queue_longer_than_the_scan_limit_is_not_guessed_at(fresh: Broker):
    a, b, c = submit(fresh, 3)
    client = fresh.client()
    client.rpop("cpu")  # a's message (the oldest) is lost
    age(fresh, [a, b, c])
    assert reconcile(fresh, AVATAR_BROKER_SCAN_LIMIT="1") == []  # reads b's message only: cannot vouch
    assert reconcile(fresh) == [a]


def test_a_redis_restart_loses_the_queue_and_the_reconciler_restores_it(fresh: Broker):
    ids = submit(fresh, 2)
    fresh.redis.restart()
    assert queued(fresh) == []
    age(fresh, ids)
    assert reconcile(fresh) == ids
    assert queued(fresh) == ids
