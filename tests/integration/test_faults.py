"""Faults on the real stack, with default liveness settings (tests/integration/conftest.py): a worker and a pool
child SIGKILLed mid-render, Redis restarted empty with jobs queued, PostgreSQL down for 40 s during a render, a
webhook receiver that fails. Every job succeeds, exactly once (one output record, one webhook), within the
recovery times docs/operations.md promises; each measured time is printed (`pytest -s`)."""

from __future__ import annotations

import os
import signal
import time

import httpx
import psycopg
import pytest
from services import (
    OPTIONS,
    WEBHOOK_SECRET,
    Stack,
    WebhookReceiver,
    free_port,
    hooks_for,
    job,
    output_artifacts,
    submit,
    wait_hooks,
    wait_terminal,
)

from workers.webhooks import SIGNATURE_HEADER, verify_signature

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKER_KILL_RECOVERY = 60  # seconds from the kill to the job's success (a replacement worker running)
WORKER_KILL_TAKEOVER = 30  # from the kill to another worker holding the job (lease lapse + a reconciler pass)
REDIS_RESTART_RECOVERY = 90  # from Redis's return to every queued job's success
POSTGRES_RECOVERY = 60  # from the database's return to the running job's success
POSTGRES_OUTAGE = 40


def row(stack: Stack, job_id: str) -> dict:
    with psycopg.connect(stack.db_url) as conn:
        cur = conn.execute("SELECT status, current_node, lease_owner, attempts FROM jobs WHERE id = %s", (job_id,))
        return dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))


def wait_rendering(stack: Stack, job_id: str, timeout: float = 120) -> str:
    """Wait until the job is in video_generation; returns the lease of the process rendering it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = row(stack, job_id)
        if current["current_node"] == "video_generation" and current["lease_owner"]:
            return current["lease_owner"]
        assert current["status"] in ("queued", "running"), current
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not start rendering within {timeout}s: {row(stack, job_id)}")


def wait_taken_over(stack: Stack, job_id: str, lease: str, timeout: float) -> None:
    """Wait until another lease holds the job (or it finished)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = row(stack, job_id)
        if current["lease_owner"] not in (None, lease) or current["status"] == "succeeded":
            return
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} was not taken over within {timeout}s: {row(stack, job_id)}")


def assert_once(stack: Stack, job_ids: list[str]) -> None:
    """Each job recorded one output and sent one webhook (a second finish would add either)."""
    wait_hooks(stack, job_ids)
    time.sleep(2)
    for job_id in job_ids:
        assert len(output_artifacts(stack, job_id)) == 1, job_id
        assert [hook["status"] for hook in hooks_for(stack, job_id)] == ["succeeded"], job_id


def report(what: str, seconds: float) -> None:
    print(f"\nrecovery: {what}: {seconds:.1f} s")


def recovered(stack: Stack, job_id: str, lease: str, killed: float, what: str) -> float:
    """Wait for another process to take the job over and for its success (exactly once, within
    WORKER_KILL_RECOVERY of the kill); returns the seconds from the kill to the takeover."""
    wait_taken_over(stack, job_id, lease, timeout=WORKER_KILL_RECOVERY)
    taken = time.monotonic() - killed
    info = wait_terminal(stack, [job_id], timeout=WORKER_KILL_RECOVERY + 30)[job_id]
    took = time.monotonic() - killed
    report(f"{what} -> taken over", taken)
    report(f"{what} -> job succeeded", took)
    assert info["status"] == "succeeded", info
    assert took <= WORKER_KILL_RECOVERY
    assert info["attempts"] >= 2  # the killed attempt and the one that finished
    assert_once(stack, [job_id])
    return taken


def test_a_worker_killed_mid_render_is_replaced_and_its_job_succeeds_once(stack: Stack, long_inputs: dict):
    job_id = submit(stack, long_inputs, options={**OPTIONS, "seed": 100})
    lease = wait_rendering(stack, job_id)
    stack.cpu_worker.kill()  # SIGKILL to the worker and its pool: no acknowledgement, no cleanup
    killed = time.monotonic()
    assert row(stack, job_id)["status"] == "running"  # nobody holds it alive now
    stack.cpu_worker = stack.worker("cpu", "cpu-replacement")
    assert recovered(stack, job_id, lease, killed, "worker SIGKILLed mid-render") <= WORKER_KILL_TAKEOVER


def test_a_pool_child_killed_mid_render_is_taken_over_at_once(stack: Stack, long_inputs: dict):
    job_id = submit(stack, long_inputs, options={**OPTIONS, "seed": 101})
    lease = wait_rendering(stack, job_id)
    os.kill(int(lease.split(":")[1]), signal.SIGKILL)  # the prefork child running the task, not the worker
    killed = time.monotonic()
    # no lease lapse to wait for: Celery re-queues the task at once and the new child takes the job over
    assert recovered(stack, job_id, lease, killed, "pool child SIGKILLed mid-render") <= WORKER_KILL_TAKEOVER / 2
    assert "is gone: taking over" in stack.cpu_worker.tail(200_000)  # the redelivered task, not the reconciler
    assert stack.cpu_worker.proc.poll() is None  # the worker itself lives on


def test_a_redis_restart_with_jobs_queued_loses_none(stack: Stack, inputs: dict, long_inputs: dict):
    busy = submit(stack, long_inputs, options={**OPTIONS, "seed": 200})
    wait_rendering(stack, busy)  # the one cpu worker is busy: the next ones wait in Redis
    queued = [submit(stack, inputs, options={**OPTIONS, "seed": 201 + i}) for i in range(2)]
    stack.redis.stop()  # every queued message is gone
    during = submit(stack, inputs, options={**OPTIONS, "seed": 210})  # accepted: the database is the truth
    stack.redis.start()
    back = time.monotonic()

    job_ids = [busy, *queued, during]
    jobs = wait_terminal(stack, job_ids, timeout=REDIS_RESTART_RECOVERY + 30)
    took = time.monotonic() - back
    report("Redis restarted empty with 3 jobs queued and 1 running -> all succeeded", took)
    assert [jobs[j]["status"] for j in job_ids] == ["succeeded"] * 4, jobs
    assert took <= REDIS_RESTART_RECOVERY
    assert_once(stack, job_ids)


def test_a_postgres_outage_during_a_render_delays_the_job_but_does_not_fail_it(stack: Stack, long_inputs: dict):
    job_id = submit(stack, long_inputs, options={**OPTIONS, "seed": 300})
    wait_rendering(stack, job_id)
    stack.postgres.stop()
    time.sleep(POSTGRES_OUTAGE)
    stack.postgres.start()
    back = time.monotonic()

    deadline = back + POSTGRES_RECOVERY + 30
    status = None
    while time.monotonic() < deadline:
        try:
            status = job(stack, job_id)["status"]
        except (AssertionError, httpx.HTTPError):  # the API may still be reconnecting
            status = None
        if status not in (None, "queued", "running"):
            break
        time.sleep(1)
    took = time.monotonic() - back
    report(f"PostgreSQL down {POSTGRES_OUTAGE} s mid-render -> job succeeded (after its return)", took)
    assert status == "succeeded", f"{status}\n{stack.cpu_worker.tail()}"
    assert took <= POSTGRES_RECOVERY
    assert_once(stack, [job_id])


def deliveries(stack: Stack, job_id: str) -> list[tuple[int | None, str | None]]:
    with psycopg.connect(stack.db_url) as conn:
        rows = conn.execute(
            "SELECT status_code, error FROM webhook_deliveries WHERE job_id = %s ORDER BY attempt", (job_id,)
        )
        return list(rows.fetchall())


def webhook_state(stack: Stack, job_id: str) -> str | None:
    with psycopg.connect(stack.db_url) as conn:
        return conn.execute("SELECT webhook_state FROM jobs WHERE id = %s", (job_id,)).fetchone()[0]


def test_a_failing_webhook_receiver_is_retried_and_never_fails_the_job(stack: Stack, inputs: dict):
    flaky = WebhookReceiver(fail_first=2)  # answers 500 twice, then 204
    nobody = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    try:
        recovering = submit(stack, inputs, options={**OPTIONS, "seed": 400}, webhook_url=flaky.url)
        refused = submit(stack, inputs, options={**OPTIONS, "seed": 401}, webhook_url=nobody)
        jobs = wait_terminal(stack, [recovering, refused])
        assert [jobs[j]["status"] for j in (recovering, refused)] == ["succeeded", "succeeded"]

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and {webhook_state(stack, j) for j in (recovering, refused)} & {"pending"}:
            time.sleep(0.5)
        assert webhook_state(stack, recovering) == "delivered"
        assert [code for code, _ in deliveries(stack, recovering)] == [500, 500, 204]
        assert len(flaky.calls) == 3
        for headers, body in flaky.calls:
            assert verify_signature(WEBHOOK_SECRET, body, headers[SIGNATURE_HEADER])

        assert webhook_state(stack, refused) == "failed"  # AVATAR_WEBHOOK_MAX_ATTEMPTS=4 in the stack
        attempts = deliveries(stack, refused)
        assert len(attempts) == 4 and all(code is None and "ConnectError" in error for code, error in attempts)
    finally:
        flaky.close()
