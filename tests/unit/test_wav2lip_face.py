"""A real face for the neural-backend tests (the analysed astronaut photo); the Wav2Lip crop geometry."""

from __future__ import annotations

from functools import cache

from skimage import data

from models.face.analysis import FaceAnalysis, analyze_face
from models.render.wav2lip import face_box, mouth_mask


@cache
def astronaut_face() -> FaceAnalysis:
    """The pipeline's own analysis of the astronaut photo, framed at 256 px (the tests' output size)."""
    return analyze_face(data.astronaut(), size=256)


def test_face_box_frames_brows_to_chin():
    face = astronaut_face()
    x1, y1, x2, y2 = face_box(face.landmarks, face.image.shape)
    lm = face.landmarks
    assert x1 <= lm[:, 0].min() and lm[:, 0].max() <= x2
    assert y1 < lm[17:27, 1].min() and lm[8, 1] < y2
    # the mouth lies in the lower half, which is the half Wav2Lip re-generates
    assert lm[48:68, 1].min() > (y1 + y2) / 2


def test_mouth_mask_covers_the_mouth_and_nothing_above_the_box_middle():
    face = astronaut_face()
    box = face_box(face.landmarks, face.image.shape)
    mask = mouth_mask(face.landmarks, box)[..., 0]
    x1, y1, x2, y2 = box
    assert mask.shape == (y2 - y1, x2 - x1)
    mouth = (face.landmarks[48:68] - [x1, y1]).astype(int)
    assert mask[mouth[:, 1], mouth[:, 0]].min() > 0.9
    assert mask[: (y2 - y1) // 2 - 8].max() < 1e-3
    assert mask[0].max() == 0 and mask[:, 0].max() == 0
