"""A face photo file -> its analysed face: the one way the pipeline and the live stream open a photo, and the one
check that a photo can be animated, made before any work on a job (CLI, upload, batch through the upload)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np

from core.settings import get_settings
from models.face.analysis import (
    FaceAnalysis,
    analyze_face,
    cached_detection,
    cached_face,
    choose_face,
    detect_photo_faces,
)
from models.face.cache import image_digest
from models.face.image import load_image

DIGESTS_KEPT = 256

# (sha-256 of a photo file, pixel cap) -> the content hash of its decoded pixels (models.face.cache.image_digest),
# by which the caches know it: a photo seen before is not decoded again (10 ms at 512 px) to find its cached
# detection or analysis. Only files that decoded within the cap are here.
_DIGESTS: dict[tuple[str, int], str] = {}
_DIGESTS_LOCK = threading.Lock()


def check_photo(path: Path, face_index: int | None = None) -> int:
    """Refuse a photo the pipeline could not animate, with the InputError the render would raise later: unreadable,
    over the pixel cap, too small or too elongated (models.face.image), no face, or no face number `face_index`.
    Returns the number of faces found. The detection is cached: the job's later steps do not search again."""
    file_key = _file_key(path)
    known = _known_digest(file_key)
    found = cached_detection(known) if known else None
    if found is None:
        found = detect_photo_faces(_decode(path, file_key))
    choose_face(len(found.boxes), face_index)
    return len(found.boxes)


def load_face(path: Path, size: int, face_index: int | None = None) -> FaceAnalysis:
    """Decode (within the pixel cap), find the face and frame it at `size` (cached by content hash)."""
    file_key = _file_key(path)
    known = _known_digest(file_key)
    if known and (face := cached_face(known, size, face_index)) is not None:
        return face
    return analyze_face(_decode(path, file_key), size=size, face_index=face_index)


def _file_key(path: Path) -> tuple[str, int]:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest(), get_settings().max_image_pixels


def _known_digest(file_key: tuple[str, int]) -> str | None:
    with _DIGESTS_LOCK:
        return _DIGESTS.get(file_key)


def _decode(path: Path, file_key: tuple[str, int]) -> np.ndarray:
    image = load_image(path, max_pixels=file_key[1])
    with _DIGESTS_LOCK:
        _DIGESTS[file_key] = image_digest(image)
        while len(_DIGESTS) > DIGESTS_KEPT:
            _DIGESTS.pop(next(iter(_DIGESTS)))
    return image
