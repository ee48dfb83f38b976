"""POST /api/v1/upload/{image,audio,video} -> {id}."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, File, UploadFile

from api.deps import request_owner
from api.schemas import UploadOut
from api.uploads import UPLOAD_PREFIX, save_upload

router = APIRouter(prefix="/api/v1/upload", tags=["uploads"])


@router.post("/{kind}", response_model=UploadOut, status_code=201)
def upload(
    kind: Literal["image", "audio", "video"],
    file: UploadFile = File(...),
    owner: str = Depends(request_owner),
) -> UploadOut:
    """Upload a face photo (JPEG, PNG, WebP), speech (WAV, MP3, FLAC, OGG, M4A, WebM) or a video."""
    row = save_upload(file.file, kind, owner)
    return UploadOut(
        id=row.id,
        kind=row.kind,
        path=row.key.removeprefix(UPLOAD_PREFIX),
        content_type=row.content_type,
        size=row.size,
    )
