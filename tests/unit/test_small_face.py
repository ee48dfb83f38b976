"""A very small face enlarged to the frame (a thumbnail: the astronaut shrunk to 100 px, her face about 30 px): its
chin's edge over the neck as soft as the photo's own jaw line, and its pressed lips without the blur of its teeth
between them (models/render/warp.SMALL_FACE). A tight crop of her face shrunk to a 105 x 79 thumbnail (the face
about 65 px, the chin near the bottom edge): the neck under her dropped chin moves with it (warp.NECK_HOLD), and
her opened mouth is as soft as the photo, with no dark outline around her teeth (models/render/mouth.OPENING_BLUR)."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from models.eval.lipsync import CLOSED, aperture
from models.eval.quality import seam_energy
from models.face import landmarks as lm
from models.face.analysis import FaceAnalysis
from models.face.frame import MOUTH, MOUTH_SLIT
from models.face.tone import LUMA
from models.render.warp import Puppet

THUMBNAIL = 100  # px: the astronaut's photo shrunk to this side
TIGHT_CROP = (slice(60, 190), slice(140, 313))  # her face from the brows to under the chin (the chin at row 178)
TIGHT_SIZE = (105, 79)  # ... shrunk to this (width, height): a thumbnail of a screenshot's grid
RING_REACH = 6  # px either side of dlib's inner lips where a dark ring around the teeth would lie
DETAIL_BLUR = 1.5  # px: fine detail is what a blur this wide takes off


def _puppet(
    image: np.ndarray, size: tuple[int, int], analysed: Callable[..., FaceAnalysis], framed: int = 512
) -> tuple[FaceAnalysis, Puppet]:
    face = analysed(cv2.resize(image, size, interpolation=cv2.INTER_AREA), framed)
    return face, Puppet(face)


@pytest.fixture(scope="module")
def thumbnail(analysed_aside: Callable[..., FaceAnalysis]) -> tuple[FaceAnalysis, Puppet]:
    from scripts.sample_photos import astronaut

    return _puppet(astronaut(), (THUMBNAIL, THUMBNAIL), analysed_aside)


@pytest.fixture(scope="module")
def tight(analysed_aside: Callable[..., FaceAnalysis]) -> tuple[FaceAnalysis, Puppet]:
    from scripts.sample_photos import astronaut

    return _puppet(astronaut()[TIGHT_CROP], TIGHT_SIZE, analysed_aside)


def _read(frame: np.ndarray) -> np.ndarray:
    """dlib's 68 landmarks on a rendered frame, as the evaluation fits them."""
    boxes = lm.detect_faces(frame)
    assert boxes
    return lm.landmarks_upright(frame, boxes[0])


def test_a_thumbnails_dropped_chin_is_as_soft_as_its_jaw_line(thumbnail: tuple[FaceAnalysis, Puppet]) -> None:
    """The mouth opened wide, the chin slides down over the neck. Its edge drawn crisp (anti-aliased over a pixel)
    over a photo blurred 6 px around the jaw, the seam along dlib's jaw line read 1.44 times the photo's (the issue's
    bar: 1.3); blurred to the photo's softness, 1.21. Closed, the chin does not drop and its edge stays as it was."""
    face, puppet = thumbnail
    photo = seam_energy(face.image, face.landmarks)
    wide = puppet.frame({"jaw_open": 1.0})
    assert seam_energy(wide, _read(wide)) < 1.3 * photo


def test_a_thumbnails_pressed_lips_read_closed(thumbnail: tuple[FaceAnalysis, Puppet]) -> None:
    """The astronaut's smile shows her teeth; shrunk to a thumbnail and enlarged, their pale blur reaches a few
    pixels past dlib's inner lips. Left in what the warp samples, her pressed lips kept it as a pale streak between
    them, read 0.085 of the mouth's width apart (closed: under 0.06); grown over with the opening, 0.054."""
    pressed = thumbnail[1].frame({"lip_press": 1.0})
    assert aperture(_read(pressed)) < CLOSED


def test_a_tight_thumbnails_dropped_chin_keeps_its_soft_edge(tight: tuple[FaceAnalysis, Puppet]) -> None:
    """Framed, her chin lies 56 px over the photo's bottom edge, where the mesh holds its neck anchors: opened wide,
    the mesh squeezed the neck and the shadow under her chin into the margin under her jaw line, and the blurred
    chin drew them as a light rim over her dark collar. The seam along dlib's jaw line read 1.37 times the photo's
    (the bar: 1.3); with the neck moving with the chin near it, 0.94."""
    face, puppet = tight
    assert puppet.seam_softness  # a small face: softer around its jaw line than warp.SMALL_FACE
    photo = seam_energy(face.image, face.landmarks)
    wide = puppet.frame({"jaw_open": 1.0})
    assert seam_energy(wide, _read(wide)) < 1.3 * photo


def test_a_tight_thumbnail_framed_at_1024_px_opens_its_mouth(analysed_aside: Callable[..., FaceAnalysis]) -> None:
    """Framed at 1024 px, its chin's blurred seam is redrawn over more pixels than OpenCV remaps in one row (32767):
    the frame failed from jaw_open 0.3 (`avatar generate --size 1024` on a held-out tile, too). Each opening now
    drops the chin, farther the wider."""
    from scripts.sample_photos import astronaut

    face, puppet = _puppet(astronaut()[TIGHT_CROP], TIGHT_SIZE, analysed_aside, framed=1024)
    assert puppet.seam_softness  # a small face at 1024 px as at 512: its chin's edge is blurred
    rest = puppet.frame({})
    changed = [np.abs(puppet.frame({"jaw_open": jaw}).astype(np.int16) - rest).sum() for jaw in (0.3, 0.6, 1.2)]
    assert 0 < changed[0] < changed[1] < changed[2]


def _darkest_along_the_opening(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Per column over the middle 60 % of the mouth, the darkest luma within RING_REACH px of each of dlib's inner
    lip lines (upper, then lower)."""
    luma = image.astype(np.float32) @ LUMA
    left, right = sorted(points[[MOUTH_SLIT[0][0], MOUTH_SLIT[0][-1]], 0])
    xs = np.arange(round(left + 0.2 * (right - left)), round(right - 0.2 * (right - left)))
    darkest = []
    for chain in MOUTH_SLIT:
        line = points[sorted(chain, key=lambda i: points[i, 0])]
        for x, y in zip(xs, np.interp(xs, line[:, 0], line[:, 1]).round().astype(int), strict=True):
            darkest.append(luma[y - RING_REACH : y + RING_REACH + 1, x].min())
    return np.array(darkest)


def _fine_detail(image: np.ndarray, points: np.ndarray) -> float:
    """How crisp the mouth is drawn: the 99.5th percentile of |luma - luma blurred by DETAIL_BLUR| around the lips."""
    (x0, y0), (x1, y1) = np.floor(points[MOUTH].min(0) - 8).astype(int), np.ceil(points[MOUTH].max(0) + 8).astype(int)
    luma = image.astype(np.float32) @ LUMA
    detail = np.abs(luma - cv2.GaussianBlur(luma, (0, 0), DETAIL_BLUR))
    return float(np.percentile(detail[y0:y1, x0:x1], 99.5))


def test_a_tight_thumbnails_opened_mouth_is_as_soft_as_its_photo(tight: tuple[FaceAnalysis, Puppet]) -> None:
    """Between words (`speaking`: her lips as far apart as the photo's) her teeth met her lips in a crisp dark
    outline where the photo has none: the lips' inner edge is softened to the photo's blur (3-4 px), and past the
    teeth's own 1 px feather it showed the dark cavity drawn behind them, and inside the opening the black where
    neither lip covers (models/render/warp.EMPTY). The darkest luma along the inner lips read up to 28.6 levels under
    the photo's (90th percentile over the columns), now 2.1. Her mouth's fine detail read 2.5 to 3.0 times the
    photo's at rest, between words and with the jaw a little open (a crisp grey sliver between the resting lips);
    without that outline 1.2 to 1.9 (the edge of what the warp's photo has grown over, mouth.GROWN_EDGE), now 0.9 to
    1.3."""
    face, puppet = tight
    speaking = puppet.frame({"speaking": 1.0})
    darker = _darkest_along_the_opening(face.image, face.landmarks) - _darkest_along_the_opening(
        speaking, face.landmarks
    )
    assert np.percentile(darker, 90) < 10
    photo = _fine_detail(face.image, face.landmarks)
    for controls in ({}, {"speaking": 1.0}, {"jaw_open": 0.3}):
        assert _fine_detail(puppet.frame(controls), face.landmarks) < 1.75 * photo, controls
