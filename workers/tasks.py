"""Celery tasks: a pipeline segment (one chain link), a webhook delivery, the reconciler."""

from __future__ import annotations

from celery import Task

from workers import queues, segment, webhooks
from workers.celery_app import app
from workers.reconciler import reconcile
from workers.routing import RECONCILE_TASK, SEGMENT_TASK, WEBHOOK_TASK, queue_for


@app.task(bind=True, name=SEGMENT_TASK, max_retries=None)
def run_segment_task(self: Task, job_id: str, resource: str, previous_lease: str | None = None) -> None:
    """Run the job's segment for `resource`, then enqueue the next link (or the webhook). An infrastructure
    error sends the task again after workers.retry's delay, carrying this try's lease."""
    lease = segment.new_lease()
    try:
        outcome = segment.run_job_segment(job_id, resource, lease, previous_lease, self.request.retries)
    except segment.RetryLater as later:
        raise self.retry(countdown=later.delay, queue=queue_for(resource), kwargs={"previous_lease": lease}) from later
    queues.follow_up(job_id, outcome)


@app.task(bind=True, name=WEBHOOK_TASK, max_retries=None)
def deliver_webhook_task(self: Task, job_id: str) -> None:
    attempt = webhooks.deliver(job_id)
    if not attempt.final:
        raise self.retry(countdown=webhooks.retry_delay(attempt.number))


@app.task(name=RECONCILE_TASK)
def reconcile_task() -> list[str]:
    return reconcile()
