"""Where work goes: to the Celery queues when a broker is configured, else to the in-process pool.

Tasks are sent by name, so this module needs neither the task code nor the modules it imports."""

from __future__ import annotations

import logging
from datetime import datetime

from core.jobs import StalledJob, reset_for_requeue
from core.settings import get_settings
from workers.routing import SEGMENT_TASK, WEBHOOK_TASK, queue_for
from workers.segment import Outcome

log = logging.getLogger(__name__)


def distributed() -> bool:
    return bool(get_settings().broker_url)


def enqueue_segment(job_id: str, resource: str) -> None:
    if distributed():
        _publish(SEGMENT_TASK, (job_id, resource), queue_for(resource))
    else:
        from workers import local

        local.submit_job(job_id, resource)


def enqueue_webhook(job_id: str) -> None:
    if distributed():
        _publish(WEBHOOK_TASK, (job_id,), "cpu")
    else:
        from workers import local

        local.submit_webhook(job_id)


def follow_up(job_id: str, outcome: Outcome) -> None:
    """After a segment: enqueue the next link of the chain, or the webhook the finished job owes."""
    if outcome.next_resource:
        enqueue_segment(job_id, outcome.next_resource)
    if outcome.webhook:
        enqueue_webhook(job_id)


def requeue(job_ids: list[str], *, restart_failed: bool = False, stalled_before: datetime | None = None) -> list[str]:
    """Put jobs back on their queue (reconciler, backfill); see core.jobs.reset_for_requeue for which."""
    requeued: list[str] = []
    for job_id in job_ids:
        resource = reset_for_requeue(job_id, restart_failed=restart_failed, stalled_before=stalled_before)
        if resource is not None:
            enqueue_segment(job_id, resource)
            requeued.append(job_id)
    return requeued


def orphaned(stalled: list[StalledJob], reserved_within: float) -> set[str]:
    """Of the stalled jobs, those nobody works on and no message will bring back: embedded, the jobs this
    process's pool does not hold; distributed, a lease whose heartbeat stopped (its worker is gone), or no
    lease and no segment message in the Redis queues nor taken by a live worker. A broker that cannot be
    read this way counts every waiting job as orphaned (a duplicate message is dropped by the lease)."""
    if not stalled:
        return set()
    if not distributed():
        from workers import local

        return {job.id for job in stalled} - local.in_flight()
    dead = {job.id for job in stalled if job.leased}
    waiting = {job.id: job.resource for job in stalled if not job.leased}
    if not waiting:
        return dead
    from workers.broker_queue import lost_segment_messages

    try:
        lost = lost_segment_messages(waiting, reserved_within=reserved_within)
    except Exception:
        log.warning("could not read the broker's queues; waiting jobs are checked next time", exc_info=True)
        return dead
    return dead | (set(waiting) if lost is None else lost)


def _publish(task: str, args: tuple, queue: str) -> None:
    """Send a task; when the broker is unreachable, log it and carry on: the job row is already written, and
    the reconciler publishes again what the broker does not hold."""
    from workers.celery_app import app

    try:
        policy = {"max_retries": 2, "interval_start": 0.2}
        app.send_task(task, args, queue=queue, retry=True, retry_policy=policy)
    except Exception:
        log.exception("could not enqueue %s%s on %s; the reconciler will retry", task, args, queue)
