"""A shouting mouth that dlib fits inside its opening: its mouth is re-placed from the pixels, and it can close.

On a held-out shouting child (mouth wide open, tongue showing) dlib put the outer lips on the tongue and the dark
inside, the inner lips near the tongue's middle, 9 px apart where the lips were 50 px apart at 512: the rig read the
mouth as nearly closed, and its p/b/m frames kept it wide open (aperture 0.84 of its open vowels). Reproduced on
Grace Hopper's photo, her mouth painted wide open (red lips around a dark inside with a tongue) and dlib's mouth
landmarks put inside that opening as dlib put the child's."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from models.face import landmarks as lm
from models.face.analysis import FaceAnalysis, analyze_face, detect_photo_faces
from models.face.frame import MOUTH_CORNERS, FaceFrame
from models.render.warp import Puppet
from scripts.sample_photos import grace_hopper

LIPS = (0.55, 0.36)  # mouth widths: the painted lips' half width and half height...
INSIDE = (0.47, 0.26)  # ... the dark inside's...
TONGUE = (0.33, 0.12, 0.13)  # ... the tongue's, and how far below the middle it lies
FITTED_OUTER = (0.45, 0.15)  # dlib's outer lips on the inside (the child's: 0.12 of a mouth width under its top)
FITTED_INNER = (0.38, 0.05)  # its inner lips near the middle


def _ellipse(centre: np.ndarray, axes: tuple[float, float], width: float, count: int, start: float) -> np.ndarray:
    """`count` points on an ellipse (half axes in mouth widths) from angle `start` (degrees, clockwise in the
    image: 180 is the left end, 270 the top)."""
    angles = np.radians(start + np.arange(count) * 360.0 / count)
    return centre + width * np.stack([axes[0] * np.cos(angles), axes[1] * np.sin(angles)], 1)


def _shouting(photo: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The photo with its mouth painted wide open around the middle of dlib's mouth (`points`, in its pixels)."""
    centre = points[48:68].mean(0)
    width = float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    painted = photo.copy()
    for axes, colour, below in (
        (LIPS, (200, 60, 80), 0.0),
        (INSIDE, (25, 8, 10), 0.0),
        (TONGUE[:2], (205, 120, 125), TONGUE[2]),
    ):
        middle = tuple(int(v) for v in np.round(centre + (0.0, below * width)))
        size = tuple(int(round(a * width)) for a in axes)
        cv2.ellipse(painted, middle, size, 0, 0, 360, colour, -1, cv2.LINE_AA)
    return np.where(_near_mouth(photo, centre, width), cv2.GaussianBlur(painted, (0, 0), 1.5), photo)


def _near_mouth(photo: np.ndarray, centre: np.ndarray, width: float) -> np.ndarray:
    mask = np.zeros(photo.shape[:2], np.uint8)
    axes = tuple(int(round((a + 0.05) * width)) for a in LIPS)
    cv2.ellipse(mask, tuple(int(v) for v in np.round(centre)), axes, 0, 0, 360, 1, -1)
    return mask[..., None].astype(bool)


def _fitted_inside(points: np.ndarray) -> np.ndarray:
    """dlib's `points` with the mouth inside the painted opening: the outer lips (corners first, clockwise from the
    left one) on the dark inside, the inner lips near the middle."""
    centre = points[48:68].mean(0)
    width = float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    moved = points.copy()
    moved[48:60] = _ellipse(centre, FITTED_OUTER, width, 12, 180.0)
    moved[60:68] = _ellipse(centre, FITTED_INNER, width, 8, 180.0)
    return moved.astype(np.float32)


@pytest.fixture
def shouting(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FaceAnalysis, float]:
    """Grace Hopper shouting, analysed with dlib's mouth fitted inside her opening, and the painted opening's
    height at 512 px."""
    photo = grace_hopper()
    points = lm.landmarks(photo, detect_photo_faces(photo).boxes[0])
    painted = _shouting(photo, points)
    fit = lm.landmarks
    monkeypatch.setattr(lm, "landmarks", lambda rgb, box: _fitted_inside(fit(rgb, box)))
    face = analyze_face(painted, size=512)
    scale = FaceFrame.of(face.landmarks).height / FaceFrame.of(points).height
    width = float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    return face, 2 * INSIDE[1] * width * scale


def _dark_in_mouth(frame: np.ndarray, face: FaceAnalysis) -> int:
    """Pixels of the painted dark inside (dark and not red) around the photo's mouth in `frame`."""
    x0, y0 = np.floor(face.landmarks[48:60].min(0)).astype(int) - 5
    x1, y1 = np.ceil(face.landmarks[48:60].max(0)).astype(int) + 5
    crop = frame[y0:y1, x0:x1].astype(np.int32)
    return int(np.count_nonzero(crop.max(-1) < 70))


def test_a_mouth_fitted_inside_its_opening_is_read_as_open_as_the_photo(shouting) -> None:
    """The child's opening was read at 9 px, a fifth of its own: Grace's painted opening (54 px at 512) was read
    at 8 px; now at 32 px (the upper inner lip on the dark inside's top, the lower on the tongue)."""
    face, opening = shouting
    assert face.mouth_open_px > 0.5 * opening


def test_a_mouth_fitted_inside_its_opening_closes_pressed(shouting) -> None:
    """Pressed, the child's mouth stayed wide open: Grace's painted dark inside kept 1875 of its 2194 pixels in
    the photo; now 223 of 2322 (in its corners)."""
    face, _ = shouting
    photo = _dark_in_mouth(face.image, face)
    pressed = _dark_in_mouth(Puppet(face).frame({"lip_press": 1.0}), face)
    assert pressed < 0.15 * photo
