"""A small face enlarged to the frame (the astronaut shrunk to a 240 or 160 px photo: 3-4 px soft around the eyes,
like a screenshot grid's 60-80 px faces): its closed eyes show one soft lash line where the lids meet, under lid
skin toned like the skin around it (models/render/eyes.LID_HALO)."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from models.face.analysis import FaceAnalysis
from models.face.tone import LUMA
from models.render.eyes import EYES, SHARP_SOFTNESS, build_eyes
from models.render.warp import Puppet


@pytest.fixture(scope="module")
def shrunk(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], FaceAnalysis]:
    """The astronaut's photo shrunk to `side` px and analysed (enlarged to 512 px)."""
    from core.settings import get_settings
    from models.face.analysis import analyze_face
    from scripts.sample_photos import astronaut

    def analysed(side: int) -> FaceAnalysis:
        small = cv2.resize(astronaut(), (side, side), interpolation=cv2.INTER_AREA)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AVATAR_DATA_DIR", str(tmp_path_factory.mktemp("face-data")))
            get_settings.cache_clear()
            face = analyze_face(small, size=512)
        get_settings.cache_clear()
        return face

    return analysed


def _lash_line_below_lower_lid(face: FaceAnalysis, closed: np.ndarray) -> list[float]:
    """Per eye, in eye widths: how far below the corners' chord the closed lash line lies (the darkest row of each
    column over the eye's middle 40 %, median) beyond the open eye's lower-lid landmarks (the deepest of them)."""
    luma = cv2.GaussianBlur(closed.astype(np.float32) @ LUMA, (3, 3), 1.0)
    p, beyond = face.landmarks, []
    for upper, lower in EYES:
        inner, outer = p[upper[0]], p[upper[-1]]
        width = float(outer[0] - inner[0])
        slope = (outer[1] - inner[1]) / width
        depths = []
        for x in np.arange(inner[0] + 0.3 * width, inner[0] + 0.7 * width).round().astype(int):
            chord = float(inner[1] + (x - inner[0]) * slope)
            top = round(chord - 0.1 * width)
            depths.append(top + int(np.argmin(luma[top : round(chord + 0.5 * width), x])) - chord)
        under = p[list(lower)]
        lower_lid = float(np.max(under[:, 1] - (inner[1] + (under[:, 0] - inner[0]) * slope)))
        beyond.append((float(np.median(depths)) - lower_lid) / width)
    return beyond


def test_a_small_faces_closed_lash_line_lies_where_the_lids_meet(shrunk: Callable[[int], FaceAnalysis]) -> None:
    """Closed, the lid's edge reached 0.06 eye widths past the lower lid (no eye white left on a sharp photo) and the
    lash line hung from it; blurred to the photo's 3 px as well, the line lay that far below her lower-lid
    landmarks (0.067 and 0.064): a deep "U" under the eye. The blur reaching past the lower lid anyway, the edge
    overshoots it in its middle by what the blur does not (eyes.LID_HALO): the line lies at her lower lid (0.000 and
    0.003)."""
    face = shrunk(240)
    puppet = Puppet(face)
    assert puppet.eyes is not None and puppet.eyes.softness > 2.5
    assert max(_lash_line_below_lower_lid(face, puppet.frame({"blink": 1.0}))) < 0.03


def test_a_small_faces_lid_skin_is_not_taken_for_a_deep_sockets_shade(
    shrunk: Callable[[int], FaceAnalysis],
) -> None:
    """Her own lid skin (between the lashes and the crease) tones her closed lid and tells a deep-set eye's (the
    socket's shade: eyes.DEEP_SET, 0.72 of the light below the eye). Shrunk to a 160 px photo (4 px soft), the band
    next to her lashes held their blur (0.71 and 0.70 of the light below the eyes; the sharp photo's 0.77 and 0.84):
    her eyes were taken for deep-set, their closed lids grown from the socket's shaded rim into a flat patch ringed
    by a lash line as dark as the photo's. Past the lashes' blur (HALO softnesses) her lid skin is 0.76 and 0.75."""
    face = shrunk(160)
    layers = build_eyes(face.image, face.landmarks)
    assert layers.softness > SHARP_SOFTNESS
    assert not layers.deep_set
