"""The reconciler: re-enqueue jobs whose progress stalled (worker killed, broker restarted and lost messages)
and webhooks that were owed but never sent. Run by celery beat, `avatar reconcile`, or the embedded server.
Jobs that merely wait in a long queue are left there: only a message the broker no longer holds is re-sent."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from core.db import Job, WebhookDelivery, session_scope, utcnow
from core.settings import get_settings
from workers.jobs import requeue, stalled_jobs

log = logging.getLogger(__name__)


def reconcile(stall_seconds: float | None = None) -> list[str]:
    """Re-enqueue stalled jobs; returns their ids. A job whose worker stopped heartbeating is re-enqueued;
    a job waiting for a message only when the message is gone (a long queue is no stall). Safe to run
    anywhere, any number of times: a duplicate message finds the job claimed or moved on and is dropped."""
    from workers.dispatch import lost_messages

    settings = get_settings()
    stall = settings.job_stall_seconds if stall_seconds is None else stall_seconds
    started = utcnow()
    stalled = stalled_jobs(stall, now=started)
    lost = lost_messages({job.id: job.resource for job in stalled if not job.leased}, stall)
    due = [job.id for job in stalled if job.leased or job.id in lost]
    requeued = requeue(due, stalled_before=started - timedelta(seconds=stall))
    if requeued:
        log.warning("reconciler re-enqueued %d stalled job(s): %s", len(requeued), ", ".join(requeued))
    _resend_lost_webhooks(stall)
    return requeued


def _resend_lost_webhooks(stall: float) -> None:
    """A webhook still pending long after its job finished, with no attempt lately, lost its message."""
    from workers.dispatch import enqueue_webhook

    cutoff = utcnow() - timedelta(seconds=stall)
    with session_scope() as session:
        recent = select(WebhookDelivery.job_id).where(WebhookDelivery.created_at >= cutoff)
        ids = list(
            session.scalars(
                select(Job.id).where(Job.webhook_state == "pending", Job.finished_at < cutoff, Job.id.not_in(recent))
            )
        )
    for job_id in ids:
        enqueue_webhook(job_id)
