"""FaceFrame: the face's own axes follow a tilted head; its sizes scale with the face."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.face.analysis import FaceAnalysis, analyze_face
from models.face.frame import FaceFrame
from scripts.sample_photos import astronaut_tilted


def _tilt(frame: FaceFrame) -> float:
    return float(np.degrees(np.arctan2(frame.down[0], frame.down[1])))


def test_axes_turn_with_the_head(astronaut_face: FaceAnalysis, data_dir: Path) -> None:
    upright, tilted = astronaut_face.frame, analyze_face(astronaut_tilted()).frame
    assert abs(_tilt(tilted) - _tilt(upright) - 14.0) < 3.0  # the photo was turned 14 degrees
    assert abs(float(upright.down @ upright.right)) < 1e-6
    # in a square frame of the same face, the measures barely change
    assert abs(tilted.mouth_width / upright.mouth_width - 1) < 0.1
    assert 0.3 < upright.mouth_width / upright.width < 0.6


def test_measures_scale_with_the_landmarks(astronaut_face: FaceAnalysis) -> None:
    half = FaceFrame.of(astronaut_face.landmarks * 0.5)
    full = astronaut_face.frame
    assert np.isclose(half.height, full.height / 2) and np.isclose(half.mouth_width, full.mouth_width / 2)
    np.testing.assert_allclose(half.down, full.down, atol=1e-6)
