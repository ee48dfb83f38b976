"""A photo framed at 1024 px closes its eyes as at 512, only larger: the closing lids' gates between a soft photo (a
small face enlarged) and a sharp one read its softness as at 512 px (models/render/softness.REFERENCE_SIZE).
Enlarged twice as much, the astronaut read 2.57 px soft around the eyes (1.04 at 512): at 1024 she took a small
face's lids, grey, blurred ovals."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from models.face.analysis import FaceAnalysis
from models.face.frame import EYES
from models.face.lips import polygon_mask
from models.render.warp import Puppet


@pytest.fixture(scope="module")
def astronaut_at_1024(astronaut: np.ndarray, analysed_aside: Callable[..., FaceAnalysis]) -> FaceAnalysis:
    return analysed_aside(astronaut, 1024)


def test_closed_lids_at_1024_px_are_those_drawn_at_512(
    astronaut_face: FaceAnalysis, astronaut_at_1024: FaceAnalysis
) -> None:
    """Shut, each lid of the 1024 px frame (shrunk to 512) lies within 5 RGB levels of the 512 px frame's on
    average over the eye (the lid's own grain and resampling: 2.6-3.1 on her and Lenna's eyes). Taken for a soft
    photo's, they were grey ovals with the colour of the skin over the crease: 11.0 and 8.7 levels off."""
    at_512 = Puppet(astronaut_face).frame({"blink": 1.0}).astype(np.float32)
    shrunk = cv2.resize(Puppet(astronaut_at_1024).frame({"blink": 1.0}), (512, 512), interpolation=cv2.INTER_AREA)
    for eye_points in EYES:
        eye = polygon_mask(astronaut_face.landmarks[eye_points], at_512.shape, 2)
        assert np.abs(at_512[eye] - shrunk[eye]).mean() < 5


def test_the_seam_of_a_frame_enlarged_to_1024_px_reads_as_at_512(astronaut_face: FaceAnalysis) -> None:
    """`avatar eval`'s seam (models/eval/quality.SEAM_BAND) is measured across a band as much wider as the frame
    is larger than 512 px: kept in px, her frame opened wide read 1.145 times the photo's seam at 512 and 1.009 as
    the same frame and photo enlarged to 1024."""
    from models.eval.lipsync import face_points
    from models.eval.quality import seam_energy

    frame = Puppet(astronaut_face).frame({"jaw_open": 1.0})
    points = face_points([frame])[0]
    photo = astronaut_face.image

    def enlarged(image: np.ndarray) -> np.ndarray:
        return cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)

    at_512 = seam_energy(frame, points) / seam_energy(photo, astronaut_face.landmarks)
    at_1024 = seam_energy(enlarged(frame), 2 * points) / seam_energy(enlarged(photo), 2 * astronaut_face.landmarks)
    assert at_512 > 1.05  # the opened chin's edge: more than the photo's own
    assert abs(at_1024 - at_512) < 0.05
