"""A very small face enlarged to the frame (a thumbnail: the astronaut shrunk to 100 px, her face about 30 px): its
chin's edge over the neck as soft as the photo's own jaw line, and its pressed lips without the blur of its teeth
between them (models/render/warp.SMALL_FACE)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from models.eval.lipsync import CLOSED, aperture
from models.eval.quality import seam_energy
from models.face import landmarks as lm
from models.face.analysis import FaceAnalysis
from models.render.warp import Puppet

THUMBNAIL = 100  # px: the astronaut's photo shrunk to this side


@pytest.fixture(scope="module")
def thumbnail(tmp_path_factory: pytest.TempPathFactory) -> tuple[FaceAnalysis, Puppet]:
    from core.settings import get_settings
    from models.face.analysis import analyze_face
    from scripts.sample_photos import astronaut

    small = cv2.resize(astronaut(), (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AVATAR_DATA_DIR", str(tmp_path_factory.mktemp("face-data")))
        get_settings.cache_clear()
        face = analyze_face(small, size=512)
    get_settings.cache_clear()
    return face, Puppet(face)


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
