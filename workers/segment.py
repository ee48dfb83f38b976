"""One link of a job's chain: claim the job row, run the pipeline segment for one resource class, record it.

Every delivery of a segment message goes through `run_job_segment`, so duplicates are harmless:
- a lease belongs to one live worker process: it is claimed only while the job waits for this resource class
  and nobody holds it alive. A lease is alive while its heartbeat (every heartbeat_seconds) is younger than
  LEASE_BEATS beats, and not when it names a process of this machine that has died, so a task redelivered after
  its worker was killed takes over at once. A retry of a failed try takes over its own earlier lease, even if
  releasing it failed (the database was down);
- the worker resumes the LangGraph thread from the last completed node;
- every write after the claim is conditional on still holding the lease, so a job finishes exactly once, and a
  segment whose lease was taken (cancelled, or judged dead while it was cut off) stops at its next progress.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update

from core.db import ACTIVE_STATUSES, Job, Upload, session_scope, utcnow
from core.jobs import WEBHOOK_PENDING_IF_URL, end_active_job, new_id
from core.metrics import NODE_SECONDS, SEGMENTS
from core.settings import get_settings
from workers.retry import verdict

log = logging.getLogger(__name__)

LEASE_BEATS = 3  # heartbeats a lease outlives its last one by


@dataclass
class Outcome:
    ran: bool  # False: the message was a duplicate or the job was no longer waiting for it
    next_resource: str | None = None  # enqueue this resource class next
    terminal: str | None = None  # succeeded | failed when this segment ended the job
    webhook: bool = False  # a webhook is owed


class RetryLater(Exception):
    """The segment hit an infrastructure error: try again after `delay` seconds, passing this try's lease as
    `previous` (the lease was released if the database allowed it)."""

    def __init__(self, delay: float):
        super().__init__(f"retry in {delay:.1f}s")
        self.delay = delay


class LeaseLost(Exception):
    """The job's lease is no longer ours (cancelled, or taken over): stop without recording anything."""


def lease_seconds() -> float:
    """How long a lease lives after its last heartbeat."""
    return LEASE_BEATS * get_settings().heartbeat_seconds


@cache
def _node() -> str:
    """This machine and PID namespace: leases of the same node name processes we can check for life."""
    host = socket.gethostname()
    try:
        identity = Path("/proc/sys/kernel/random/boot_id").read_text().strip() + os.readlink("/proc/self/ns/pid")
    except OSError:  # nothing tells this machine's processes apart from another's: judge no lease dead
        identity = uuid.uuid4().hex
    return f"{host[:20]}/{hashlib.sha256(f'{host}|{identity}'.encode()).hexdigest()[:8]}"


def new_lease() -> str:
    """A lease id naming this process: `<host>/<node>:<pid>:<random>`."""
    return f"{_node()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(lease: str) -> bool:
    """True when `lease` names a process of this node that is gone (a killed worker or pool child)."""
    node, _, rest = lease.partition(":")
    pid = rest.split(":", 1)[0]
    if node != _node() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # killed but not yet reaped by its parent
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _take(job_id: str, resource: str, lease: str, free: Any) -> Job | None:
    now = utcnow()
    with session_scope() as session:
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_(ACTIVE_STATUSES), Job.next_resource == resource, free)
            .values(lease_owner=lease, heartbeat_at=now, status="running", attempts=Job.attempts + 1)
        ).rowcount
        if not claimed:
            return None
        session.execute(update(Job).where(Job.id == job_id, Job.started_at.is_(None)).values(started_at=now))
        return session.get(Job, job_id)


def claim(job_id: str, resource: str, lease: str, previous: str | None = None) -> Job | None:
    """Take the job's lease for `lease` if the job waits for `resource` and its lease is free, expired, ours
    from an earlier try (`previous`), or held by a dead process of this machine."""
    stale = utcnow() - timedelta(seconds=lease_seconds())
    free = [Job.lease_owner.is_(None), Job.heartbeat_at < stale] + ([Job.lease_owner == previous] if previous else [])
    job = _take(job_id, resource, lease, or_(*free))
    if job is not None:
        return job
    with session_scope() as session:
        holder = session.scalar(select(Job.lease_owner).where(Job.id == job_id, Job.status == "running"))
    if holder and holder_is_dead(holder):
        log.info("job %s: the process holding its lease (%s) is gone: taking over", job_id, holder)
        return _take(job_id, resource, lease, Job.lease_owner == holder)
    return None


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
            except Exception as exc:  # a database blip must not kill the segment; the next beat retries
                log.warning("heartbeat for job %s failed: %s", self.job_id, exc)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _progress_reporter(job_id: str, lease: str) -> Any:
    from pipeline.graph import ORDER

    failing = False

    def report(node: str, fraction: float) -> None:
        nonlocal failing
        index = ORDER.index(node) if node in ORDER else 0
        try:
            held = _touch(job_id, lease, current_node=node, progress=round((index + fraction) / len(ORDER), 4))
        except Exception as exc:  # progress is for display: the work goes on while the database is away
            if not failing:
                log.warning("job %s: could not record progress (%s); going on", job_id, exc)
            failing = True
            return
        failing = False
        if not held:
            raise LeaseLost(job_id)

    return report


def run_job_segment(job_id: str, resource: str, lease: str, previous: str | None = None, retries: int = 0) -> Outcome:
    """Run the job's next segment if it waits for `resource`, under `lease`. Errors follow workers.retry:
    an input or internal error fails the job at once; an infrastructure error raises RetryLater."""
    try:
        return _run(job_id, resource, lease, previous)
    except LeaseLost:
        log.info("job %s: lease lost (cancelled or taken over); stopping this run", job_id)
        return Outcome(ran=True)
    except Exception as exc:
        decision = verdict(exc, retries)
        if decision.retry:
            SEGMENTS.labels(resource, "retry").inc()
            log.warning(
                "job %s: infrastructure error (%s), retry %d in %.1fs", job_id, exc, retries + 1, decision.delay
            )
            _release(job_id, lease)
            raise RetryLater(decision.delay) from exc
        SEGMENTS.labels(resource, "failed").inc()
        if decision.code == "internal_error":
            log.exception("job %s: failed", job_id)
        else:
            log.info("job %s: failed on its input: %s", job_id, decision.message)
        ended, has_webhook = end_active_job(job_id, "failed", decision.code, decision.message, lease=lease)
        return Outcome(ran=ended, terminal="failed" if ended else None, webhook=ended and has_webhook)


def _release(job_id: str, lease: str) -> None:
    try:
        _touch(job_id, lease, lease_owner=None)
    except Exception:  # the retry takes the lease over as its own earlier one
        log.warning("job %s: could not release its lease", job_id, exc_info=True)


def _run(job_id: str, resource: str, lease: str, previous: str | None) -> Outcome:
    from pipeline.runner import new_job_state, run_segment

    job = claim(job_id, resource, lease, previous)
    if job is None:
        log.info("job %s: nothing to run on %s (duplicate message, cancelled or finished)", job_id, resource)
        return Outcome(ran=False)
    log.info("job %s: running %s segment (attempt %d)", job_id, resource, job.attempts)
    initial = new_job_state(job.id, job.image_key, job.audio_key, job.text, job.options, video_key=job.video_key)
    with Heartbeat(job_id, lease):
        result = run_segment(job_id, resource, initial=initial, on_progress=_progress_reporter(job_id, lease))
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
        "emotion_track": state.get("emotion_track") or [],
        "controller": state.get("controller"),
        "duration": state.get("duration"),
    }
    # the renderer that made the video and why, e.g. "wav2lip: wav2lip weights missing: ... -> warp"
    if renderer := (state.get("plan") or {}).get("renderer"):
        values["backend"], values["backend_reason"] = renderer["name"], renderer["reason"]
    if status == "succeeded":
        values.update(output_key=state.get("output_key"), progress=1.0, current_node=None)
    else:
        values.update(error_code=error["code"] if error else "failed", error_message=error["message"] if error else "")
    artifact = _artifact(state) if status == "succeeded" and state.get("output_key") else None
    with session_scope() as session:
        done = session.execute(update(Job).where(_held(job_id, lease)).values(**values)).rowcount
        job = session.get(Job, job_id)
        if done and artifact is not None and job is not None:
            artifact.owner, artifact.job_id = job.owner, job.id
            session.add(artifact)
    if not done:
        return Outcome(ran=True)
    SEGMENTS.labels(resource, status).inc()
    for node, seconds in timings.items():
        NODE_SECONDS.labels(node).observe(seconds)
    return Outcome(ran=True, terminal=status, webhook=job is not None and job.webhook_url is not None)


def _artifact(state: dict[str, Any]) -> Upload:
    """The output video's record, with the size and SHA-256 finalize measured (owner and job set by the caller)."""
    info = state["output_info"]
    return Upload(
        id=new_id(),
        owner="",
        kind="output",
        key=state["output_key"],
        content_type="video/mp4",
        size=info["bytes"],
        sha256=info["sha256"],
    )
