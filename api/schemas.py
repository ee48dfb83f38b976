"""Request and response bodies of the HTTP API (they make the OpenAPI page at /docs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from core.db import Job
from pipeline.options import JobOptions

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_id: str | None = Field(default=None, max_length=64, description="id from POST /api/v1/upload/image")
    video_id: str | None = Field(
        default=None, max_length=64, description="instead of image_id: a video to re-voice, from /upload/video"
    )
    audio_id: str | None = Field(default=None, max_length=64, description="id from /upload/audio or /upload/video")
    text: str | None = Field(default=None, max_length=5000, description="spoken with espeak-ng when no audio_id")
    options: JobOptions = Field(default_factory=JobOptions)
    webhook_url: AnyHttpUrl | None = None


class GenerateRequest(BaseModel):
    """The seed's request: paths inside the upload area (as returned in uploads' `path`)."""

    model_config = ConfigDict(extra="forbid")

    image_path: str = Field(max_length=300)
    audio_path: str | None = Field(default=None, max_length=300)
    text: str | None = Field(default=None, max_length=5000)
    options: JobOptions = Field(default_factory=JobOptions)
    webhook_url: AnyHttpUrl | None = None


class UploadOut(BaseModel):
    id: str
    kind: str
    path: str = Field(description="the file's place in the upload area (for POST /api/v1/generate)")
    content_type: str
    size: int


class JobAccepted(BaseModel):
    job_id: str
    status: JobStatus
    status_url: str


class ErrorOut(BaseModel):
    code: str
    message: str


class PhraseEmotion(BaseModel):
    """The emotion detected in one phrase of the speech."""

    start: float = Field(description="seconds")
    end: float = Field(description="seconds")
    text: str = Field(description="the phrase's words (empty without a transcript)")
    primary: str = Field(description="the emotion it shows")
    confidence: float
    valence: float = Field(description="-1 unpleasant .. 1 pleasant")
    arousal: float = Field(description="-1 calm .. 1 excited")
    question: bool = Field(description="the brows rise on its last words")


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value else None


class JobOut(BaseModel):
    job_id: str
    status: JobStatus
    current_node: str | None
    progress: float
    attempts: int
    timings: dict[str, float] = Field(description="seconds per pipeline node")
    backend: str | None
    backend_reason: str | None
    emotion: str | None
    emotion_track: list[PhraseEmotion] = Field(description="the emotion phrase by phrase (set when the job is done)")
    controller: str | None = Field(
        description='what decided the performance: "rules", "llm (...)", "rules (llm failed: ...)"'
    )
    duration: float | None = Field(description="seconds of video")
    warnings: list[str]
    error: ErrorOut | None
    result_url: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            job_id=job.id,
            status=job.status,
            current_node=job.current_node,
            progress=job.progress,  # type: ignore[arg-type]
            attempts=job.attempts,
            timings=job.timings or {},
            backend=job.backend,
            backend_reason=job.backend_reason,
            emotion=job.emotion,
            emotion_track=job.emotion_track or [],
            controller=job.controller,
            duration=job.duration,
            warnings=job.warnings or [],
            error=ErrorOut(code=job.error_code, message=job.error_message or "") if job.error_code else None,
            result_url=f"/api/v1/jobs/{job.id}/result" if job.status == "succeeded" else None,
            created_at=_aware(job.created_at),
            started_at=_aware(job.started_at),  # type: ignore[arg-type]
            finished_at=_aware(job.finished_at),
        )


class JobPage(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None
