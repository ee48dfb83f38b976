"""Send work somewhere: to Celery queues when a broker is configured, else to the in-process pool."""

from __future__ import annotations

import logging
from typing import Any

from core.settings import get_settings
from workers.routing import queue_for
from workers.segment import Outcome

log = logging.getLogger(__name__)


def distributed() -> bool:
    return bool(get_settings().broker_url)


def warm_up() -> None:
    """What the first submit would otherwise pay for while every concurrent request waits on it: import the
    task modules and, with a broker, open the producer's connection (an unreachable broker is only logged;
    sends retry, and the reconciler covers what they miss)."""
    if not distributed():
        from workers import local  # noqa: F401

        return
    from workers.tasks import run_segment_task

    try:
        with run_segment_task.app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=1)
    except Exception as exc:
        log.warning("broker not reachable at start-up (%s); submits will retry it", exc)


def enqueue_segment(job_id: str, resource: str) -> None:
    if distributed():
        from workers.tasks import run_segment_task

        _publish(run_segment_task, (job_id, resource), queue_for(resource))
    else:
        from workers import local

        local.submit_job(job_id, resource)


def enqueue_webhook(job_id: str) -> None:
    if distributed():
        from workers.tasks import deliver_webhook_task

        _publish(deliver_webhook_task, (job_id,), "cpu")
    else:
        from workers import local

        local.submit_webhook(job_id)


def lost_messages(waiting: dict[str, str], stall_seconds: float) -> set[str]:
    """Of jobs waiting for a segment message (job id -> resource class), those whose message is verifiably
    gone: not in this process's pool (embedded), not in the Redis queues nor taken by a live worker
    (distributed). Brokers that cannot be read count every such job as lost (a duplicate is dropped by
    the lease)."""
    if not waiting:
        return set()
    if not distributed():
        from workers import local

        return set(waiting) - local.in_flight()
    from workers.broker_queue import lost_segment_messages

    try:
        lost = lost_segment_messages(waiting, reserved_within=stall_seconds)
    except Exception:
        log.warning("could not read the broker's queues; waiting jobs are checked next time", exc_info=True)
        return set()
    return set(waiting) if lost is None else lost


def _publish(task: Any, args: tuple, queue: str) -> None:
    """Send a task; when the broker is unreachable, log it and carry on: the job row is already written,
    and the reconciler re-enqueues it once its heartbeat is stale."""
    try:
        policy = {"max_retries": 2, "interval_start": 0.2}
        task.apply_async(args, queue=queue, retry=True, retry_policy=policy)
    except Exception:
        log.exception("could not enqueue %s%s on %s; the reconciler will retry", task.name, args, queue)


def follow_up(job_id: str, outcome: Outcome) -> None:
    """After a segment: enqueue the next link of the chain, or the webhook the finished job owes."""
    if outcome.next_resource:
        enqueue_segment(job_id, outcome.next_resource)
    if outcome.webhook:
        enqueue_webhook(job_id)
