"""Job rows: create, look up, end, reset for a requeue, find the stalled. The row is the source of truth;
queues only carry ids. Sending work to a queue is the workers' part (workers/dispatch.py)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError

from core.db import ACTIVE_STATUSES, Job, session_scope, utcnow
from core.errors import InputError

# a job reaching a terminal state owes a webhook only when it has a URL
WEBHOOK_PENDING_IF_URL = case((Job.webhook_url.is_not(None), "pending"), else_=None)


@dataclass
class JobRequest:
    owner: str
    image_key: str | None
    audio_key: str | None
    text: str | None
    options: dict[str, Any]
    webhook_url: str | None = None
    idempotency_key: str | None = None
    video_key: str | None = None  # a video face source instead of image_key

    def fingerprint(self) -> str:
        body = [self.image_key, self.audio_key, self.text, self.options, self.webhook_url]
        if self.video_key:  # appended only when set: fingerprints of photo jobs stay what they were
            body.append(self.video_key)
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def new_id() -> str:
    return uuid.uuid4().hex


def create_job(request: JobRequest) -> tuple[Job, bool]:
    """Insert the job row. Returns (job, created); an Idempotency-Key already used by this owner returns the
    earlier job (or a 409 if the request body differs)."""
    fingerprint = request.fingerprint()
    job = Job(
        id=new_id(),
        owner=request.owner,
        status="queued",
        idempotency_key=request.idempotency_key,
        request_hash=fingerprint,
        image_key=request.image_key,
        video_key=request.video_key,
        audio_key=request.audio_key,
        text=request.text,
        options=request.options,
        webhook_url=request.webhook_url,
    )  # progress columns start at their defaults (core/db.Job): next_resource cpu, no segments, heartbeat now
    try:
        with session_scope() as session:
            session.add(job)
    except IntegrityError:
        # the key was used before (a retry, or a concurrent twin that won the insert): the unique index
        # decides, so a new key costs one round trip and a replay two
        existing = _by_idempotency_key(request.owner, request.idempotency_key) if request.idempotency_key else None
        if existing is None:
            raise
        return _same_request(existing, fingerprint), False
    return job, True


def _by_idempotency_key(owner: str, key: str) -> Job | None:
    with session_scope() as session:
        return session.scalar(select(Job).where(Job.owner == owner, Job.idempotency_key == key))


def _same_request(job: Job, fingerprint: str) -> Job:
    if job.request_hash != fingerprint:
        raise InputError(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request body; use a new key.",
            status_code=409,
        )
    return job


def get_job(job_id: str, owner: str | None = None) -> Job | None:
    """The job, or None when it does not exist or belongs to another owner (callers answer 404 alike)."""
    with session_scope() as session:
        job = session.get(Job, job_id)
    if job is None or (owner is not None and job.owner != owner):
        return None
    return job


def job_ids(status: str, since: datetime, until: datetime | None = None) -> list[str]:
    """Ids of the jobs in `status` created in [since, until), oldest first."""
    where = [Job.status == status, Job.created_at >= since] + ([Job.created_at < until] if until else [])
    with session_scope() as session:
        return list(session.scalars(select(Job.id).where(*where).order_by(Job.created_at)))


def end_active_job(job_id: str, status: str, code: str, message: str, lease: str | None = None) -> tuple[bool, bool]:
    """Move a queued or running job (with `lease`: only while that lease holds it) to a terminal `status` with
    an error; (ended it?, does it have a webhook?)."""
    held = [Job.lease_owner == lease] if lease else []
    with session_scope() as session:
        ended = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_(ACTIVE_STATUSES), *held)
            .values(
                status=status,
                error_code=code,
                error_message=message,
                finished_at=utcnow(),
                lease_owner=None,
                webhook_state=WEBHOOK_PENDING_IF_URL,
            )
        ).rowcount
        has_webhook = session.scalar(select(Job.webhook_url).where(Job.id == job_id)) is not None
    return bool(ended), has_webhook


def reset_for_requeue(
    job_id: str, *, restart_failed: bool = False, stalled_before: datetime | None = None
) -> str | None:
    """Make the job wait for a new message: drop its lease, mark it published now. Failed jobs are reset to
    queued when asked; the pipeline resumes from the node that failed (earlier nodes are checkpointed).
    With `stalled_before`, a job that showed life since then (claimed, heartbeat, handed on) is left alone.
    Returns the resource class its message must go to, or None when it is left as it is."""
    statuses = (*ACTIVE_STATUSES, "failed") if restart_failed else ACTIVE_STATUSES
    with session_scope() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.status not in statuses:
            return None
        if stalled_before is not None and job.heartbeat_at >= stalled_before:
            return None
        if job.status == "failed":
            job.status, job.error_code, job.error_message, job.finished_at = "queued", None, None, None
            job.webhook_state = None
        job.lease_owner, job.heartbeat_at = None, utcnow()
        return job.next_resource


@dataclass
class StalledJob:
    id: str
    resource: str  # the class of its next segment
    leased: bool  # True: a worker held it and stopped beating; False: it waits for a message


def stalled_jobs(stall_seconds: float, now: datetime | None = None) -> list[StalledJob]:
    """Active jobs with no sign of life for `stall_seconds`: a lease whose heartbeat stopped (dead worker),
    or no lease and a message published that long ago (waiting in a queue, or lost)."""
    cutoff = (now or utcnow()) - timedelta(seconds=stall_seconds)
    with session_scope() as session:
        rows = session.execute(
            select(Job.id, Job.next_resource, Job.lease_owner)
            .where(Job.status.in_(ACTIVE_STATUSES), Job.heartbeat_at < cutoff)
            .order_by(Job.created_at)
        )
        return [StalledJob(job_id, resource, lease is not None) for job_id, resource, lease in rows]
