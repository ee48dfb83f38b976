"""The seed's POST /api/v1/generate: JSON {image_path, audio_path, text?, options?}.

Paths name files in the upload area (the `path` an upload returned); nothing outside it resolves."""

from __future__ import annotations

from pathlib import PurePosixPath

from fastapi import APIRouter, Depends
from sqlalchemy import select

from api.errors import APIError
from api.limits import LimitedRoute
from api.routes.jobs import Submitter, submit, submitter
from api.schemas import GenerateRequest, JobAccepted
from api.uploads import UPLOAD_PREFIX
from core.db import Upload, session_scope

router = APIRouter(prefix="/api/v1", tags=["jobs"], route_class=LimitedRoute)


def upload_key(path: str, owner: str, field: str, kinds: tuple[str, ...]) -> str:
    """The storage key of an upload named by its path in the upload area; nothing outside it resolves."""
    pure = PurePosixPath(path.replace("\\", "/"))
    if not path or pure.is_absolute() or ".." in pure.parts or path.startswith("~"):
        raise APIError(
            400,
            "path_outside_uploads",
            f"{field}: {path!r} is outside the upload area; pass the `path` an upload returned.",
        )
    key = UPLOAD_PREFIX + str(pure).removeprefix(UPLOAD_PREFIX)
    with session_scope() as session:
        row = session.scalar(select(Upload).where(Upload.key == key, Upload.owner == owner))
    if row is None or row.kind not in kinds:
        raise APIError(404, "upload_not_found", f"{field}: no {kinds[0]} upload at {path!r}; upload it first.")
    return row.key


@router.post("/generate", response_model=JobAccepted, status_code=202)
def generate(body: GenerateRequest, by: Submitter = Depends(submitter)) -> JobAccepted:
    image_key = upload_key(body.image_path, by.owner, "image_path", ("image",))
    audio_key = upload_key(body.audio_path, by.owner, "audio_path", ("audio", "video")) if body.audio_path else None
    return submit(by, image_key, audio_key, body.text, body.options.as_dict(), body.webhook_url)
