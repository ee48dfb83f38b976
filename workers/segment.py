"""One link of a job's chain: claim the job row, run the pipeline segment for one resource class, record it.

Every delivery of a segment message goes through `run_job_segment`, so duplicates are harmless:
- a claim succeeds only while the job waits for this resource class and nobody holds a live lease
  (lease_owner empty, or its heartbeat older than job_stall_seconds);
- while the segment runs, a heartbeat thread keeps the lease alive; a killed worker stops heartbeating and the
  reconciler hands the job to the next worker, which resumes the LangGraph thread from the last
  completed node;
- every write after the claim is conditional on still holding the lease, so a job finishes exactly once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, update

from core.db import ACTIVE_STATUSES, Job, Upload, session_scope, utcnow
from core.metrics import NODE_SECONDS, SEGMENTS
from core.settings import get_settings
from workers.jobs import WEBHOOK_PENDING_IF_URL, end_active_job, new_id

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    ran: bool  # False: the message was a duplicate or the job was no longer waiting for it
    next_resource: str | None = None  # enqueue this resource class next
    terminal: str | None = None  # succeeded | failed when this segment ended the job
    webhook: bool = False  # a webhook is owed


def lease_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(job_id: str, resource: str, lease: str) -> Job | None:
    settings = get_settings()
    now = utcnow()
    stale = now - timedelta(seconds=settings.job_stall_seconds)
    with session_scope() as session:
        claimed = session.execute(
            update(Job)
            .where(
                Job.id == job_id,
                Job.status.in_(ACTIVE_STATUSES),
                Job.next_resource == resource,
                or_(Job.lease_owner.is_(None), Job.heartbeat_at < stale),
            )
            .values(lease_owner=lease, heartbeat_at=now, status="running", attempts=Job.attempts + 1)
        ).rowcount
        if not claimed:
            return None
        session.execute(update(Job).where(Job.id == job_id, Job.started_at.is_(None)).values(started_at=now))
        return session.get(Job, job_id)


def _held(job_id: str, lease: str) -> Any:
    return (Job.id == job_id) & (Job.lease_owner == lease) & (Job.status == "running")


def _touch(job_id: str, lease: str, **values: Any) -> bool:
    with session_scope() as session:
        return bool(
            session.execute(update(Job).where(_held(job_id, lease)).values(heartbeat_at=utcnow(), **values)).rowcount
        )


class Heartbeat:
    """Refreshes the lease every heartbeat_seconds while a segment runs in this process."""

    def __init__(self, job_id: str, lease: str):
        self.job_id, self.lease = job_id, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id[:8]}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(get_settings().heartbeat_seconds):
            try:
                if not _touch(self.job_id, self.lease):
                    return  # cancelled, or the lease went to another worker
            except Exception:  # a database blip must not kill the segment; the next beat retries
                log.warning("heartbeat for job %s failed", self.job_id, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _progress_reporter(job_id: str, lease: str) -> Any:
    from pipeline.graph import ORDER

    def report(node: str, fraction: float) -> None:
        index = ORDER.index(node) if node in ORDER else 0
        _touch(job_id, lease, current_node=node, progress=round((index + fraction) / len(ORDER), 4))

    return report


def run_job_segment(job_id: str, resource: str) -> Outcome:
    """Run the job's next segment if it waits for `resource`. Transient errors raise (the lease is released
    first, so a retry can claim the job at once)."""
    from pipeline.runner import new_job_state, run_segment

    lease = lease_id()
    job = claim(job_id, resource, lease)
    if job is None:
        log.info("job %s: nothing to run on %s (duplicate message, cancelled or finished)", job_id, resource)
        return Outcome(ran=False)
    log.info("job %s: running %s segment (attempt %d)", job_id, resource, job.attempts)
    initial = new_job_state(job.id, job.image_key, job.audio_key, job.text, job.options)
    try:
        with Heartbeat(job_id, lease):
            result = run_segment(job_id, resource, initial=initial, on_progress=_progress_reporter(job_id, lease))
    except Exception:
        SEGMENTS.labels(resource, "error").inc()
        _touch(job_id, lease, lease_owner=None)
        raise
    state = result.state
    if result.failed:
        error = result.error or {"code": "failed", "message": "The pipeline failed."}
        return _finish(job_id, lease, resource, "failed", state, error)
    if result.done:
        return _finish(job_id, lease, resource, "succeeded", state, None)
    SEGMENTS.labels(resource, "continued").inc()
    handed_on = _touch(
        job_id,
        lease,
        lease_owner=None,
        next_resource=result.next_resource,
        segments=job.segments + 1,
        timings=state.get("timings") or {},
    )
    return Outcome(ran=True, next_resource=result.next_resource if handed_on else None)


def fail_job(job_id: str, code: str, message: str) -> Outcome:
    """Give up on a job whose transient errors outlasted the retries."""
    ended, has_webhook = end_active_job(job_id, "failed", code, message)
    return Outcome(ran=ended, terminal="failed" if ended else None, webhook=ended and has_webhook)


def _finish(
    job_id: str, lease: str, resource: str, status: str, state: dict[str, Any], error: dict[str, str] | None
) -> Outcome:
    timings = state.get("timings") or {}
    values: dict[str, Any] = {
        "status": status,
        "lease_owner": None,
        "finished_at": utcnow(),
        "timings": timings,
        "warnings": state.get("warnings") or [],
        "webhook_state": WEBHOOK_PENDING_IF_URL,
        "emotion": state.get("emotion"),
        "duration": state.get("duration"),
    }
    # the renderer that made the video and why, e.g. "wav2lip: wav2lip weights missing: ... -> warp"
    if renderer := (state.get("plan") or {}).get("renderer"):
        values["backend"], values["backend_reason"] = renderer["name"], renderer["reason"]
    if status == "succeeded":
        values.update(output_key=state.get("output_key"), progress=1.0, current_node=None)
    else:
        values.update(error_code=error["code"] if error else "failed", error_message=error["message"] if error else "")
    with session_scope() as session:
        done = session.execute(update(Job).where(_held(job_id, lease)).values(**values)).rowcount
        job = session.get(Job, job_id)
        if done and status == "succeeded" and job is not None and job.output_key:
            session.add(_artifact(job, state))
    if not done:
        return Outcome(ran=True)
    SEGMENTS.labels(resource, status).inc()
    for node, seconds in timings.items():
        NODE_SECONDS.labels(node).observe(seconds)
    return Outcome(ran=True, terminal=status, webhook=job is not None and job.webhook_url is not None)


def _artifact(job: Job, state: dict[str, Any]) -> Upload:
    info = state.get("output_info") or {}
    return Upload(
        id=new_id(),
        owner=job.owner,
        kind="output",
        key=job.output_key or "",
        content_type="video/mp4",
        size=int(info.get("bytes") or info.get("size") or 0),
        sha256=str(info.get("sha256") or ""),
        job_id=job.id,
    )
