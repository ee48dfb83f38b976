"""The reconciler: re-enqueue jobs whose progress stalled (worker killed, broker restarted and lost messages)
and webhooks that were owed but never sent. Run by celery beat, `avatar reconcile`, or the embedded server."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from core.db import Job, WebhookDelivery, session_scope, utcnow
from core.settings import get_settings
from workers.jobs import requeue, stalled_job_ids

log = logging.getLogger(__name__)


def reconcile(stall_seconds: float | None = None) -> list[str]:
    """Re-enqueue stalled jobs; returns their ids. Safe to run anywhere, any number of times: a duplicate
    message finds the job claimed or moved on and is dropped."""
    settings = get_settings()
    stall = settings.job_stall_seconds if stall_seconds is None else stall_seconds
    requeued = requeue(stalled_job_ids(stall))
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
