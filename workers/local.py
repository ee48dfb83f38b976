"""Embedded mode (no broker): jobs run in a small thread pool inside the server process, with the same
claim / heartbeat / finish rules and retry policy as the Celery workers, and webhooks in a pool of their own."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from core.settings import get_settings
from workers import segment, webhooks

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pools: dict[str, ThreadPoolExecutor] = {}
_in_flight: Counter[str] = Counter()  # job id -> its submissions not finished yet (queued or running here)


def _pool(name: str) -> ThreadPoolExecutor:
    with _lock:
        if name not in _pools:
            size = get_settings().local_workers if name == "jobs" else 2
            _pools[name] = ThreadPoolExecutor(max_workers=max(1, size), thread_name_prefix=f"avatar-{name}")
        return _pools[name]


def submit_job(job_id: str, resource: str) -> None:
    with _lock:
        _in_flight[job_id] += 1
    _pool("jobs").submit(_run_job, job_id, resource)


def in_flight() -> set[str]:
    """Jobs this process has queued or is running: nothing of theirs is lost."""
    with _lock:
        return set(_in_flight)


def submit_webhook(job_id: str) -> None:
    _pool("webhooks").submit(_deliver, job_id)


def _run_job(job_id: str, resource: str) -> None:
    try:
        _run_segments(job_id, resource)
    finally:
        with _lock:
            _in_flight[job_id] -= 1
            if _in_flight[job_id] <= 0:
                del _in_flight[job_id]


def _run_segments(job_id: str, resource: str) -> None:
    """Run every segment of the job here; infrastructure errors are retried after workers.retry's delay."""
    retries, previous = 0, None
    next_resource: str | None = resource
    while next_resource:
        lease = segment.new_lease()
        try:
            outcome = segment.run_job_segment(job_id, next_resource, lease, previous, retries)
        except segment.RetryLater as later:
            time.sleep(later.delay)
            retries, previous = retries + 1, lease
            continue
        retries, previous = 0, None
        next_resource = outcome.next_resource
        if outcome.webhook:
            submit_webhook(job_id)


def _deliver(job_id: str) -> None:
    while not (attempt := webhooks.deliver(job_id)).final:
        time.sleep(webhooks.retry_delay(attempt.number))


def shutdown(wait: bool = False) -> None:
    """Stop the pools. wait=True runs what was submitted to completion first (jobs, then their webhooks):
    a CLI command that enqueued jobs in embedded mode must do that before the interpreter exits."""
    for name in ("jobs", "webhooks"):
        with _lock:
            pool = _pools.pop(name, None)
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=not wait)
    with _lock:
        _in_flight.clear()  # what was cancelled never runs: a later pool in this process owns nothing yet
