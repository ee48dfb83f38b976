"""Accept an uploaded file safely: bounded size, content sniffed (never trusting the name or Content-Type),
images checked for decompression bombs, media length capped, stored under a generated name."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select

from api.errors import APIError
from api.limits import UPLOAD_PATH, body_limit
from core.db import Upload, session_scope, utcnow
from core.errors import InputError
from core.jobs import new_id
from core.settings import get_settings
from core.storage import open_storage

CHUNK = 1024 * 1024
UPLOAD_PREFIX = "uploads/"

# leading bytes -> (extension, content type); checked in order
_AUDIO_MAGIC = (
    (lambda h: h[:4] == b"RIFF" and h[8:12] == b"WAVE", ".wav", "audio/wav"),
    (lambda h: h[:4] == b"fLaC", ".flac", "audio/flac"),
    (lambda h: h[:4] == b"OggS", ".ogg", "audio/ogg"),
    (lambda h: h[:3] == b"ID3" or (h[0] == 0xFF and h[1] & 0xE0 == 0xE0), ".mp3", "audio/mpeg"),
    (lambda h: h[4:8] == b"ftyp", ".m4a", "audio/mp4"),
    (lambda h: h[:4] == b"\x1a\x45\xdf\xa3", ".webm", "audio/webm"),
)
_VIDEO_MAGIC = (
    (lambda h: h[4:8] == b"ftyp", ".mp4", "video/mp4"),
    (lambda h: h[:4] == b"\x1a\x45\xdf\xa3", ".webm", "video/webm"),
    (lambda h: h[:4] == b"RIFF" and h[8:12] == b"AVI ", ".avi", "video/x-msvideo"),
)
_IMAGE_TYPES = {
    "JPEG": (".jpg", "image/jpeg"),
    "PNG": (".png", "image/png"),
    "WEBP": (".webp", "image/webp"),
    "BMP": (".bmp", "image/bmp"),
}


@dataclass
class Sniffed:
    ext: str
    content_type: str


def spool(source: BinaryIO, dest: Path, limit: int) -> tuple[int, str]:
    """Copy at most `limit` bytes to `dest`; 413 beyond that. Returns (size, sha256)."""
    digest, size = hashlib.sha256(), 0
    with dest.open("wb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise APIError(413, "too_large", body_limit(UPLOAD_PATH)[1])
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise APIError(422, "empty_file", "The uploaded file is empty.")
    return size, digest.hexdigest()


def _refused(exc: InputError) -> APIError:
    """The loader's own answer (it names the file "your image" / "your audio", as a sentence's start here)."""
    return APIError(exc.status_code, exc.code, exc.message[:1].upper() + exc.message[1:])


def sniff_image(path: Path) -> Sniffed:
    """Refuse, before it gets an id, a photo the pipeline could not animate (models.face.load.check_photo: decoded
    to its end within the pixel cap, its shape, a face in it), and image formats we do not take."""
    from PIL import Image

    from models.face.load import check_photo

    try:
        check_photo(path)
        with Image.open(path) as img:
            kind = img.format or ""
    except InputError as exc:
        raise _refused(exc) from exc
    if kind not in _IMAGE_TYPES:
        raise APIError(415, "unsupported_image", f"{kind} images are not supported; send a JPEG, PNG or WebP.")
    return Sniffed(*_IMAGE_TYPES[kind])


def sniff_media(path: Path, kind: str) -> Sniffed:
    """Recognise the container by its leading bytes, then decode its audio to the end (or the length cap):
    a header can claim anything, so the real length and decodability are only known this way."""
    import av

    from models.audio.io import decode_audio

    with path.open("rb") as f:
        head = f.read(16).ljust(16, b"\0")
    table = _AUDIO_MAGIC if kind == "audio" else _VIDEO_MAGIC
    match = next((Sniffed(ext, ctype) for test, ext, ctype in table if test(head)), None)
    wanted = "WAV, MP3, FLAC, OGG, M4A or WebM" if kind == "audio" else "MP4, WebM or AVI"
    if match is None:
        raise APIError(415, f"not_{kind}", f"The file is not a supported {kind} file; send {wanted}.")
    if kind == "video":
        try:
            with av.open(str(path)) as container:
                has_video = bool(container.streams.video)
        except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise APIError(415, "unreadable_video", f"The video could not be opened; send {wanted}.") from exc
        if not has_video:
            raise APIError(422, "no_video_stream", "The file holds no video stream.")
        _check_video(path)
        return match  # its sound, when a job uses it as the speech, is checked by that job (its length cap)
    try:
        decode_audio(path, max_seconds=get_settings().max_audio_seconds)
    except InputError as exc:
        raise _refused(exc) from exc
    return match


def _check_video(path: Path) -> None:
    """A face video: every frame demuxed, within the length and frame size caps."""
    from models.media.reader import check_video, probe_video

    settings = get_settings()
    try:
        check_video(probe_video(path), "your video", settings.max_video_seconds, settings.max_video_pixels)
    except InputError as exc:
        raise _refused(exc) from exc


def save_upload(source: BinaryIO, kind: str, owner: str) -> Upload:
    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="avatar-upload-") as tmp:
        path = Path(tmp) / f"your {kind}"  # the loaders name the file in their messages
        size, sha256 = spool(source, path, settings.max_upload_bytes)
        if (same := _existing(owner, kind, sha256)) is not None:
            return same  # the same bytes again: one stored copy, one id (lets clients retry safely)
        sniffed = sniff_image(path) if kind == "image" else sniff_media(path, kind)
        upload_id = new_id()
        key = open_storage().store(f"{UPLOAD_PREFIX}{upload_id}{sniffed.ext}", path)
    row = Upload(
        id=upload_id,
        owner=owner,
        kind=kind,
        key=key,
        content_type=sniffed.content_type,
        size=size,
        sha256=sha256,
        created_at=utcnow(),
    )
    with session_scope() as session:
        session.add(row)
    return row


def _existing(owner: str, kind: str, sha256: str) -> Upload | None:
    with session_scope() as session:
        return session.scalar(
            select(Upload).where(Upload.owner == owner, Upload.kind == kind, Upload.sha256 == sha256).limit(1)
        )


def owned_uploads(owner: str, wanted: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, Upload]:
    """The uploads a request names, fetched in one query: {field: (upload id, allowed kinds)} -> {field: row}.
    404 for an id that is unknown or another owner's, 422 for the wrong kind."""
    ids = [upload_id for upload_id, _ in wanted.values()]
    with session_scope() as session:
        rows = {row.id: row for row in session.scalars(select(Upload).where(Upload.id.in_(ids)))}
    found = {}
    for field, (upload_id, kinds) in wanted.items():
        row = rows.get(upload_id)
        if row is None or row.owner != owner or row.kind == "output":
            raise APIError(404, "upload_not_found", f"{field}: no upload {upload_id!r}; upload the file first.")
        if row.kind not in kinds:
            raise APIError(422, "wrong_upload_kind", f"{field}: upload {upload_id!r} is a {row.kind}, not {kinds[0]}.")
        found[field] = row
    return found


def owned_upload(upload_id: str, owner: str, kinds: tuple[str, ...], field: str) -> Upload:
    return owned_uploads(owner, {field: (upload_id, kinds)})[field]
