"""A face photo file -> its analysed face: the one way the pipeline and the live stream open a photo."""

from __future__ import annotations

from pathlib import Path

from core.settings import get_settings
from models.face.analysis import FaceAnalysis, analyze_face
from models.face.image import load_image


def load_face(path: Path, size: int, face_index: int | None = None) -> FaceAnalysis:
    """Decode (within the pixel cap), find the face and frame it at `size` (cached by content hash)."""
    image = load_image(path, max_pixels=get_settings().max_image_pixels)
    return analyze_face(image, size=size, face_index=face_index)
