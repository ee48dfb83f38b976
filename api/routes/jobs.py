"""Jobs: submit (202 + id, Idempotency-Key honoured), poll, fetch the result, cancel, list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy import func, select

from api.deps import request_owner
from api.errors import APIError
from api.limits import LimitedRoute
from api.schemas import JobAccepted, JobCreate, JobOut, JobPage, JobStatus
from api.uploads import owned_uploads
from core.db import Job, session_scope
from core.jobs import JobRequest, get_job
from core.metrics import JOBS_SUBMITTED
from core.storage import open_storage
from models.face.load import check_photo
from pipeline.options import require_face, require_speech
from workers.dispatch import cancel as cancel_job
from workers.dispatch import submit_job

MAX_OFFSET = 1_000_000  # deeper pages: narrow the list with ?status= instead
router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], route_class=LimitedRoute)


@dataclass
class Submitter:
    """Who submits a job, the key that makes a retried submit return the same job, and the response to mark."""

    owner: str
    idempotency_key: str | None
    response: Response


def submitter(
    response: Response,
    owner: str = Depends(request_owner),
    idempotency_key: str | None = Header(default=None, min_length=1, max_length=200),
) -> Submitter:
    return Submitter(owner, idempotency_key, response)


def submit(
    by: Submitter,
    image_key: str | None,
    audio_key: str | None,
    text: str | None,
    options: dict[str, Any],
    webhook_url: Any,
    video_key: str | None = None,
) -> JobAccepted:
    require_speech(bool(audio_key), text, "audio_id (an uploaded audio or video) or text")
    if options.get("face_index"):  # the upload found a face (number 0); a later one is checked here, not at render
        check_photo(open_storage().fetch(image_key), options["face_index"])
    job, created = submit_job(  # a webhook_url the server will not call is a 422 that says why
        JobRequest(
            owner=by.owner,
            image_key=image_key,
            video_key=video_key,
            audio_key=audio_key,
            text=text,
            options=options,
            webhook_url=str(webhook_url) if webhook_url else None,
            idempotency_key=by.idempotency_key,
        )
    )
    if created:
        JOBS_SUBMITTED.inc()
    else:
        by.response.headers["Idempotent-Replayed"] = "true"
    return JobAccepted(job_id=job.id, status=job.status, status_url=f"/api/v1/jobs/{job.id}")  # type: ignore[arg-type]


def owned_job(job_id: str, owner: str) -> Job:
    job = get_job(job_id, owner)
    if job is None:
        raise APIError(404, "job_not_found", f"No job {job_id!r} (for this API key).")
    return job


@router.post("", response_model=JobAccepted, status_code=202)
def create(body: JobCreate, by: Submitter = Depends(submitter)) -> JobAccepted:
    """Queue a talking-head job. Repeating a request with the same Idempotency-Key returns the same job."""
    require_face(body.image_id is not None, body.video_id is not None, "image_id, or video_id (a video to re-voice)")
    wanted = {"image_id": (body.image_id, ("image",))} if body.image_id else {"video_id": (body.video_id, ("video",))}
    if body.audio_id:
        wanted["audio_id"] = (body.audio_id, ("audio", "video"))
    found = owned_uploads(by.owner, wanted)
    audio_key = found["audio_id"].key if body.audio_id else None
    image_key, video_key = (found[name].key if name in found else None for name in ("image_id", "video_id"))
    return submit(by, image_key, audio_key, body.text, body.options.as_dict(), body.webhook_url, video_key)


@router.get("", response_model=JobPage)
def list_jobs(
    status: JobStatus | None = None,
    limit: int = Query(default=20, ge=1, le=100),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
    owner: str = Depends(request_owner),
) -> JobPage:
    """This key's jobs, newest first."""
    where = [Job.owner == owner] + ([Job.status == status] if status else [])
    with session_scope() as session:
        total = session.scalar(select(func.count()).select_from(Job).where(*where)) or 0
        rows = list(
            session.scalars(
                select(Job).where(*where).order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
            )
        )
    next_offset = offset + limit if offset + limit < total else None
    return JobPage(items=[JobOut.of(j) for j in rows], total=total, limit=limit, offset=offset, next_offset=next_offset)


@router.get("/{job_id}", response_model=JobOut)
def read(job_id: str, owner: str = Depends(request_owner)) -> JobOut:
    return JobOut.of(owned_job(job_id, owner))


@router.get(
    "/{job_id}/result",
    response_class=Response,
    responses={
        200: {"content": {"video/mp4": {}}},
        307: {"description": "redirect to a presigned object-store URL"},
    },
)
def result(job_id: str, owner: str = Depends(request_owner)) -> Response:
    """The MP4: a redirect to a presigned URL (S3) or the file itself (local storage)."""
    job = owned_job(job_id, owner)
    if job.status != "succeeded" or not job.output_key:
        raise APIError(409, "not_ready", f"Job {job_id} is {job.status}; the video exists once it has succeeded.")
    storage = open_storage()
    url = storage.presigned_url(job.output_key)
    if url:
        return RedirectResponse(url, status_code=307)
    path = storage.fetch(job.output_key)
    return FileResponse(path, media_type="video/mp4", filename=f"{job_id}.mp4")


@router.delete("/{job_id}", response_model=JobOut, status_code=202)
def cancel(job_id: str, owner: str = Depends(request_owner)) -> JobOut:
    """Cancel a queued or running job (a running node completes first)."""
    job = owned_job(job_id, owner)
    if not cancel_job(job.id):
        raise APIError(409, "already_finished", f"Job {job_id} already {job.status}; nothing to cancel.")
    return JobOut.of(owned_job(job_id, owner))
