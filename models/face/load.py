"""A face photo file -> its analysed face: the one way the pipeline and the live stream open a photo, and the one
check that a photo can be animated, made before any work on a job (CLI, upload, batch through the upload)."""

from __future__ import annotations

from pathlib import Path

from core.settings import get_settings
from models.face.analysis import FaceAnalysis, analyze_face, choose_face, detect_photo_faces
from models.face.image import load_image


def check_photo(path: Path, face_index: int | None = None) -> int:
    """Refuse a photo the pipeline could not animate, with the InputError the render would raise later: unreadable,
    over the pixel cap, too small or too elongated (models.face.image), no face, or no face number `face_index`.
    Returns the number of faces found. The detection is cached: the job's later steps do not search again."""
    faces = detect_photo_faces(load_image(path, max_pixels=get_settings().max_image_pixels)).boxes
    choose_face(len(faces), face_index)
    return len(faces)


def load_face(path: Path, size: int, face_index: int | None = None) -> FaceAnalysis:
    """Decode (within the pixel cap), find the face and frame it at `size` (cached by content hash)."""
    image = load_image(path, max_pixels=get_settings().max_image_pixels)
    return analyze_face(image, size=size, face_index=face_index)
