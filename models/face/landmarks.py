"""dlib's embedded face models (shipped by the face-recognition-models package), loaded once per process."""

from __future__ import annotations

import importlib.util
import threading
from functools import cache
from pathlib import Path

import dlib
import numpy as np

PACKAGE = "face_recognition_models"
UPSAMPLE_MAX_SIDE = 1200  # upsampling bigger photos costs seconds and finds nothing the plain pass missed
_DLIB = threading.Lock()  # dlib's model objects abort the process when two threads use them at once


def model_path(filename: str) -> Path:
    """A weight file of face-recognition-models, located without importing the package.

    Its __init__ imports pkg_resources, which recent setuptools no longer provides."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {PACKAGE} package is missing: pip install face-recognition-models")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / filename
    if not path.exists():
        raise RuntimeError(f"{path} is missing: reinstall face-recognition-models")
    return path


@cache
def _detector() -> dlib.fhog_object_detector:
    return dlib.get_frontal_face_detector()


@cache
def _predictor() -> dlib.shape_predictor:
    return dlib.shape_predictor(str(model_path("shape_predictor_68_face_landmarks.dat")))


@cache
def _encoder() -> dlib.face_recognition_model_v1:
    return dlib.face_recognition_model_v1(str(model_path("dlib_face_recognition_resnet_model_v1.dat")))


def detect_faces(rgb: np.ndarray) -> list[dlib.rectangle]:
    """Frontal faces in `rgb`, largest first; a second, upsampled pass when the first finds none."""
    with _DLIB:
        faces = list(_detector()(rgb, 0))
        if not faces and max(rgb.shape[:2]) <= UPSAMPLE_MAX_SIDE:
            faces = list(_detector()(rgb, 1))
    return sorted(faces, key=lambda r: r.width() * r.height(), reverse=True)


def landmarks(rgb: np.ndarray, box: dlib.rectangle) -> np.ndarray:
    """The 68 iBUG landmarks inside `box`, float32 (68, 2) in x, y pixel coordinates."""
    with _DLIB:
        shape = _predictor()(rgb, box)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def descriptor(rgb: np.ndarray, box: dlib.rectangle) -> np.ndarray:
    """The 128-d identity embedding of the face in `box`."""
    with _DLIB:
        shape = _predictor()(rgb, box)
        return np.array(_encoder().compute_face_descriptor(rgb, shape), dtype=np.float32)


def box_from_points(points: np.ndarray) -> dlib.rectangle:
    """A detector-like box around 68 landmarks, for re-fitting landmarks on later frames of a video."""
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    # The HOG detector's box sits a little above the landmarks' extent (it stops short of the chin).
    h = y1 - y0
    return dlib.rectangle(int(x0), int(y0 - 0.04 * h), int(x1), int(y1 - 0.09 * h))
