"""The job system's entry points for the API (and the CLI): submit, cancel, requeue, and the server's start and
stop. The API imports nothing else from workers/ (tests/unit/test_import_graph.py checks it)."""

from __future__ import annotations

import logging
import threading

from core.db import Job
from core.jobs import JobRequest, create_job, end_active_job
from core.settings import get_settings
from workers.queues import distributed, enqueue_segment, enqueue_webhook, requeue

__all__ = ["broker_ok", "cancel", "distributed", "requeue", "shutdown", "start", "submit_job"]

log = logging.getLogger(__name__)
_reconciler_stop = threading.Event()


def submit_job(request: JobRequest) -> tuple[Job, bool]:
    """Check the webhook URL (a 422 that says why), write the job row and enqueue its first segment.
    Returns (job, created); see core.jobs.create_job for Idempotency-Key replays."""
    if request.webhook_url:
        from workers.webhook_guard import check_webhook_url

        check_webhook_url(request.webhook_url)
    job, created = create_job(request)
    if created:
        enqueue_segment(job.id, job.next_resource)
    return job, created


def cancel(job_id: str) -> bool:
    """Cancel a queued or running job; False when it had already finished. A running segment stops at its
    next progress report (it finds its lease gone)."""
    ended, has_webhook = end_active_job(job_id, "cancelled", "cancelled", "Cancelled by request.")
    if ended and has_webhook:
        enqueue_webhook(job_id)
    return ended


def broker_ok() -> bool:
    """The broker answers (always True without one)."""
    if not distributed():
        return True
    from workers.celery_app import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


def start() -> None:
    """Server start-up. Distributed: open the producer's connection now rather than on the first submit (an
    unreachable broker is only logged: sends retry, and the reconciler covers what they miss). Embedded: start
    the reconciler thread, whose first pass re-enqueues what an earlier run of the server left unfinished."""
    if distributed():
        from workers.celery_app import app

        try:
            with app.producer_or_acquire() as producer:
                producer.connection.ensure_connection(max_retries=1)
        except Exception as exc:
            log.warning("broker not reachable at start-up (%s); submits will retry it", exc)
        return
    _reconciler_stop.clear()
    threading.Thread(target=_embedded_reconciler, name="reconciler", daemon=True).start()


def shutdown() -> None:
    """Server shutdown: embedded, stop the reconciler and the job pools."""
    if distributed():
        return
    from workers import local

    _reconciler_stop.set()
    local.shutdown()


def _embedded_reconciler() -> None:
    from workers.reconciler import reconcile

    stall: float | None = 0.0  # at start-up nothing of ours is running: every unfinished job was orphaned
    while True:
        try:
            reconcile(stall)
        except Exception:
            log.exception("reconciler pass failed")
        stall = None
        if _reconciler_stop.wait(get_settings().reconcile_interval_seconds):
            return
