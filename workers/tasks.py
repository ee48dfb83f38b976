"""Celery tasks: a pipeline segment (one chain link), a webhook delivery, the reconciler."""

from __future__ import annotations

import logging

from celery import Task

from core.settings import get_settings
from workers import dispatch, segment, webhooks
from workers.celery_app import app
from workers.reconciler import reconcile
from workers.routing import queue_for

log = logging.getLogger(__name__)


@app.task(bind=True, name="avatar.run_segment", max_retries=None)
def run_segment_task(self: Task, job_id: str, resource: str) -> None:
    """Run the job's segment for `resource`, then enqueue the next link (or the webhook)."""
    settings = get_settings()
    try:
        outcome = segment.run_job_segment(job_id, resource)
    except Exception as exc:
        retries = self.request.retries
        if retries >= settings.task_max_retries:
            log.exception("job %s: giving up after %d retries", job_id, retries)
            outcome = segment.fail_job(job_id, "internal_error", f"{type(exc).__name__}: {exc}")
        else:
            delay = settings.task_retry_backoff * 2**retries
            log.warning("job %s: transient error (%s), retry %d in %.1fs", job_id, exc, retries + 1, delay)
            raise self.retry(exc=exc, countdown=delay, queue=queue_for(resource)) from exc
    dispatch.follow_up(job_id, outcome)


@app.task(bind=True, name="avatar.deliver_webhook", max_retries=None)
def deliver_webhook_task(self: Task, job_id: str) -> None:
    attempt = webhooks.deliver(job_id)
    if not attempt.final:
        raise self.retry(countdown=webhooks.retry_delay(attempt.number))


@app.task(name="avatar.reconcile")
def reconcile_task() -> list[str]:
    return reconcile()
