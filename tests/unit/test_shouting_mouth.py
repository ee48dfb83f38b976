"""A shouting mouth that dlib fits inside its opening: its mouth is re-placed from the pixels, and it can close.

On a held-out shouting child (mouth wide open, tongue showing) dlib put the outer lips on the tongue and the dark
inside, the inner lips near the tongue's middle, 9 px apart where the lips were 50 px apart at 512: the rig read the
mouth as nearly closed, and its p/b/m frames kept it wide open (aperture 0.84 of its open vowels). Reproduced on
Grace Hopper's photo, her mouth painted wide open (red lips around a dark inside with a tongue) and dlib's mouth
landmarks put inside that opening as dlib put the child's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.face import landmarks as lm
from models.face.analysis import FaceAnalysis, analyze_face, detect_photo_faces
from models.face.frame import INNER_CORNERS, MOUTH_CORNERS, NOSE_TIP, FaceFrame
from models.render.warp import Puppet
from scripts.sample_photos import grace_hopper

LIPS = (0.55, 0.36)  # mouth widths: the painted lips' half width and half height...
INSIDE = (0.47, 0.26)  # ... the dark inside's...
TONGUE = (0.33, 0.12, 0.13)  # ... the tongue's, and how far below the middle it lies
FITTED_OUTER = (0.45, 0.19, 0.06)  # dlib's outer lips on the inside, and how far below the middle: 0.13 of a mouth
# width under its top (the child's 0.12), its lower lip on the shade where the tongue meets the lower lip (his too)
FITTED_INNER = (0.38, 0.05)  # its inner lips near the middle
DARK = 70  # the painted inside is darker than this (its brightest channel), the lips and the tongue lighter
# the inside painted rounder (a superellipse of this power, not an ellipse's 2): its corners full as the child's
# cavity, beyond the re-placed opening's straight edges
ROUND_CORNERS = 4.0
CORNER_NEAR = 0.2  # mouth widths around the inner corners looked at ...
CORNER_DARK = 100  # ... for pixels darker than this (their brightest channel): the inside's, not the lips' (160+)


def _ellipse(centre: np.ndarray, axes: tuple[float, float], width: float, count: int, start: float) -> np.ndarray:
    """`count` points on an ellipse (half axes in mouth widths) from angle `start` (degrees, clockwise in the
    image: 180 is the left end, 270 the top)."""
    angles = np.radians(start + np.arange(count) * 360.0 / count)
    return centre + width * np.stack([axes[0] * np.cos(angles), axes[1] * np.sin(angles)], 1)


def _rounded(centre: np.ndarray, axes: tuple[float, float], width: float, power: float) -> np.ndarray:
    """A superellipse of `power` (2: an ellipse) around `centre`, half axes in mouth widths: (180, 2) points."""
    angles = np.radians(np.arange(0.0, 360.0, 2.0))
    cos, sin = np.cos(angles), np.sin(angles)
    shape = np.stack([np.sign(cos) * np.abs(cos) ** (2 / power), np.sign(sin) * np.abs(sin) ** (2 / power)], 1)
    return centre + width * np.array(axes) * shape


def _shouting(photo: np.ndarray, points: np.ndarray, corners: float = 2.0) -> np.ndarray:
    """The photo with its mouth painted wide open around the middle of dlib's mouth (`points`, in its pixels), its
    dark inside a superellipse of power `corners` (2: an ellipse)."""
    centre = points[48:68].mean(0)
    width = float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    painted = photo.copy()
    for axes, colour, below in (
        (LIPS, (200, 60, 80), 0.0),
        (INSIDE, (25, 8, 10), 0.0),
        (TONGUE[:2], (205, 120, 125), TONGUE[2]),
    ):
        middle = tuple(int(v) for v in np.round(centre + (0.0, below * width)))
        if axes == INSIDE and corners != 2.0:
            outline = np.round(_rounded(centre, INSIDE, width, corners) * 16).astype(np.int32)
            cv2.fillPoly(painted, [outline], colour, cv2.LINE_AA, 4)
        else:
            cv2.ellipse(painted, middle, _axes(axes, width), 0, 0, 360, colour, -1, cv2.LINE_AA)
    return np.where(_near_mouth(photo, centre, width), cv2.GaussianBlur(painted, (0, 0), 1.5), photo)


def _near_mouth(photo: np.ndarray, centre: np.ndarray, width: float) -> np.ndarray:
    mask = np.zeros(photo.shape[:2], np.uint8)
    cv2.ellipse(
        mask, tuple(int(v) for v in np.round(centre)), _axes((LIPS[0] + 0.05, LIPS[1] + 0.05), width), 0, 0, 360, 1, -1
    )
    return mask[..., None].astype(bool)


def _fitted_inside(points: np.ndarray) -> np.ndarray:
    """dlib's `points` with the mouth inside the painted opening: the outer lips (corners first, clockwise from the
    left one) on the dark inside, the inner lips near the middle."""
    centre = points[48:68].mean(0)
    width = float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    moved = points.copy()
    moved[48:60] = _ellipse(centre + (0.0, FITTED_OUTER[2] * width), FITTED_OUTER[:2], width, 12, 180.0)
    moved[60:68] = _ellipse(centre, FITTED_INNER, width, 8, 180.0)
    return moved.astype(np.float32)


@dataclass
class Shouting:
    face: FaceAnalysis  # Grace Hopper shouting, analysed with dlib's mouth fitted inside her opening
    inside: np.ndarray  # the painted dark inside in the framed photo (a boolean mask)
    opening: float  # its height there, px


@pytest.fixture
def shouting(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Shouting:
    return _analysed(monkeypatch, 2.0)


@pytest.fixture
def shouting_round(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Shouting:
    return _analysed(monkeypatch, ROUND_CORNERS)


def _analysed(monkeypatch: pytest.MonkeyPatch, corners: float) -> Shouting:
    """Grace shouting (her inside painted with `corners`, _shouting), analysed with dlib's mouth fitted inside."""
    photo = grace_hopper()
    points = lm.landmarks(photo, detect_photo_faces(photo).boxes[0])
    painted = _shouting(photo, points, corners)
    fit = lm.landmarks
    monkeypatch.setattr(lm, "landmarks", lambda rgb, box: _fitted_inside(fit(rgb, box)))
    face = analyze_face(painted, size=512)
    scale = FaceFrame.of(face.landmarks).height / FaceFrame.of(points).height  # photo to framed: the nose stays
    centre = face.landmarks[NOSE_TIP] + scale * (points[48:68].mean(0) - points[NOSE_TIP])
    width = scale * float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    inside = np.zeros(face.image.shape[:2], np.uint8)
    cv2.ellipse(inside, tuple(int(v) for v in np.round(centre)), _axes(INSIDE, width), 0, 0, 360, 1, -1)
    return Shouting(face, inside.astype(bool), 2 * INSIDE[1] * width)


def _axes(axes: tuple[float, float], width: float) -> tuple[int, int]:
    return int(round(axes[0] * width)), int(round(axes[1] * width))


def _dark_inside(frame: np.ndarray, inside: np.ndarray) -> int:
    """Pixels of `frame` as dark as the painted inside, within it (`inside`)."""
    return int(np.count_nonzero(inside & (frame.max(-1) < DARK)))


def test_a_mouth_fitted_inside_its_opening_is_read_as_open_as_the_photo(shouting) -> None:
    """The child's opening was read at 9 px, a fifth of its own: Grace's painted opening (54 px at 512) was read
    at 8 px; now at 53 px."""
    assert shouting.face.mouth_open_px > 0.5 * shouting.opening


def test_a_mouth_fitted_inside_its_opening_closes_pressed(shouting) -> None:
    """Pressed, the child's mouth stayed wide open: Grace's painted dark inside kept 1967 of its 2279 pixels; now
    20."""
    photo = _dark_inside(shouting.face.image, shouting.inside)
    pressed = _dark_inside(Puppet(shouting.face).frame({"lip_press": 1.0}), shouting.inside)
    assert pressed < 0.1 * photo


def test_a_rounder_inside_leaves_no_dark_corners_pressed(shouting_round) -> None:
    """The child's dark inside filled its corners, beyond the straight inner-lip lines between the re-placed pairs:
    pressed, its lips' corners sampled it, a dark streak dlib read as lips apart (p/b/m 0.175 of its open vowels;
    0.053 now). Grace's inside painted rounder: 151 pixels near her pressed lips' corners darker than the lips; now
    14, its corners grown over while the lips are closed (mouth.CAVITY_SHADE)."""
    face = shouting_round.face
    pressed = Puppet(face).frame({"lip_press": 1.0})
    rows, columns = np.indices(pressed.shape[:2])
    near = np.zeros(pressed.shape[:2], bool)
    for corner in face.landmarks[list(INNER_CORNERS)]:
        near |= np.hypot(columns - corner[0], rows - corner[1]) < CORNER_NEAR * face.frame.mouth_width
    assert np.count_nonzero(near & (pressed.max(-1) < CORNER_DARK)) < 50


# An open mouth that shows no teeth, dlib's upper inner lip half way down its dark inside (a held-out small face
# shouting): its lips painted on Grace Hopper and fitted so, the outer lips on the painted ones
HALF_LIPS = (0.55, 0.3)  # mouth widths: the painted lips' half width and half height ...
HALF_INSIDE = (0.45, 0.14)  # ... the dark inside's
HALF_OUTER = (0.52, 0.27)  # dlib's outer lips on the painted lips' outline
HALF_INNER = (0.42, 0.05, 0.2)  # its inner corners' half width (at the middle), its upper and lower inner lips' depth


def _open_without_teeth(photo: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The photo with red lips around a dark inside (no teeth, no tongue) painted around dlib's mouth (`points`)."""
    centre = points[48:68].mean(0)
    width = float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    painted = photo.copy()
    for axes, colour in ((HALF_LIPS, (200, 60, 80)), (HALF_INSIDE, (25, 8, 10))):
        cv2.ellipse(painted, tuple(int(v) for v in np.round(centre)), _axes(axes, width), 0, 0, 360, colour, -1)
    return np.where(_near_mouth(photo, centre, width), cv2.GaussianBlur(painted, (0, 0), 1.5), photo)


def _upper_inner_lip_half_way_down(points: np.ndarray) -> np.ndarray:
    """dlib's `points` with the outer lips on the painted ones and the upper inner lip over half way down the inside,
    the lower inner lip on the lower lip, below it (HALF_INNER)."""
    centre = points[48:68].mean(0)
    width = float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    half, upper, lower = (v * width for v in HALF_INNER)
    moved = points.copy()
    moved[48:60] = _ellipse(centre, HALF_OUTER, width, 12, 180.0)
    moved[60:68] = centre + np.array(
        [(-half, 0), (-half / 2, upper), (0, upper), (half / 2, upper),
         (half, 0), (half / 2, lower), (0, lower), (-half / 2, lower)]
    )  # fmt: skip
    return moved.astype(np.float32)


def test_an_open_mouth_without_teeth_fitted_half_way_down_its_inside_closes_pressed(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The held-out face's pressed lips met under a dark band, the upper part of its inside taken for upper lip
    (p/b/m 0.39 of its open vowels). Grace's painted inside kept 1472 of its 2012 dark pixels pressed; now 286, the
    line where her lips meet: the inner lips are moved out to the edge of the dark inside (models/face/lips.py,
    DARK_INSIDE)."""
    photo = grace_hopper()
    points = lm.landmarks(photo, detect_photo_faces(photo).boxes[0])
    fit = lm.landmarks
    monkeypatch.setattr(lm, "landmarks", lambda rgb, box: _upper_inner_lip_half_way_down(fit(rgb, box)))
    face = analyze_face(_open_without_teeth(photo, points), size=512)
    assert not face.teeth_visible
    centre, width = face.landmarks[48:68].mean(0), face.frame.mouth_width
    rows, columns = np.indices(face.image.shape[:2])
    near = (np.abs(columns - centre[0]) < HALF_LIPS[0] * width) & (np.abs(rows - centre[1]) < HALF_LIPS[1] * width)
    dark = near & (face.image.max(-1) < DARK)
    pressed = Puppet(face).frame({"lip_press": 1.0})
    assert np.count_nonzero(dark & (pressed.max(-1) < DARK)) < 0.2 * np.count_nonzero(dark)
