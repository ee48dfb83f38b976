"""The reconciler: re-enqueue jobs nobody works on (worker killed, broker restarted and lost messages, a send
that failed while the broker was down) and webhooks that were owed but never sent. Run by `avatar reconcile
--loop`, celery beat, or the embedded server. Jobs that merely wait in a long queue are left there: only a
message the broker no longer holds is re-sent."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from core.db import Job, WebhookDelivery, session_scope, utcnow
from core.jobs import stalled_jobs
from workers.queues import enqueue_webhook, orphaned, requeue
from workers.retry import RETRY_DELAY_CAP
from workers.segment import lease_seconds
from workers.webhooks import longest_wait

log = logging.getLogger(__name__)


def reconcile(stall_seconds: float | None = None) -> list[str]:
    """Re-enqueue orphaned jobs; returns their ids. A job is looked at once it showed no sign of life for
    `stall_seconds` (default: a lease's lifetime, a few heartbeats): a lease whose heartbeat stopped, or no
    lease and a message published that long ago and since gone from the broker. Safe to run anywhere, any
    number of times: a duplicate message finds the job claimed or moved on and is dropped."""
    stall = lease_seconds() if stall_seconds is None else stall_seconds
    started = utcnow()
    stalled = stalled_jobs(stall, now=started)
    # a retry waits as a message a worker holds (not yet claimed) for up to the longest retry delay
    due = orphaned(stalled, reserved_within=stall + RETRY_DELAY_CAP)
    requeued = requeue([job.id for job in stalled if job.id in due], stalled_before=started - timedelta(seconds=stall))
    if requeued:
        log.warning("reconciler re-enqueued %d stalled job(s): %s", len(requeued), ", ".join(requeued))
    _resend_lost_webhooks()
    return requeued


def _resend_lost_webhooks() -> None:
    """A webhook still pending after its job finished, with no attempt for longer than a retry waits, lost
    its message."""
    cutoff = utcnow() - timedelta(seconds=longest_wait())
    with session_scope() as session:
        recent = select(WebhookDelivery.job_id).where(WebhookDelivery.created_at >= cutoff)
        ids = list(
            session.scalars(
                select(Job.id).where(Job.webhook_state == "pending", Job.finished_at < cutoff, Job.id.not_in(recent))
            )
        )
    for job_id in ids:
        enqueue_webhook(job_id)
