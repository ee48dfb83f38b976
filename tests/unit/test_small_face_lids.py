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
def shrunk(analysed_aside: Callable[..., FaceAnalysis]) -> Callable[..., FaceAnalysis]:
    """The astronaut's photo shrunk to `side` px (saved as a JPEG of `quality`, if given) and analysed (enlarged to
    512 px)."""
    from scripts.sample_photos import astronaut

    def analysed(side: int, quality: int = 0) -> FaceAnalysis:
        small = cv2.resize(astronaut(), (side, side), interpolation=cv2.INTER_AREA)
        if quality:  # saved as a JPEG (its colour kept at half resolution, 4:2:0), as a screenshot grid's faces are
            _, saved = cv2.imencode(".jpg", np.ascontiguousarray(small[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
            small = np.ascontiguousarray(cv2.imdecode(saved, cv2.IMREAD_COLOR)[..., ::-1])
        return analysed_aside(small)

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


def _lid_colour_off_skin(face: FaceAnalysis, closed: np.ndarray) -> list[float]:
    """Per eye: how far the closed lid's colour (CIELAB a and b, 8 bit; its upper part, over the middle half of the
    eye) lies from the skin's below the eye (0.2-0.4 eye widths under the lower lid), brightness left out."""
    lab = cv2.cvtColor(closed, cv2.COLOR_RGB2LAB).astype(np.float32)
    ys, xs = np.mgrid[0 : closed.shape[0], 0 : closed.shape[1]]
    p, off = face.landmarks, []
    for upper, lower in EYES:
        top, bottom = p[list(upper)], p[list(lower)]
        inner, outer = min(top[:, 0]), max(top[:, 0])
        width = outer - inner
        along = (xs - inner) / width
        y_top, y_bottom = (np.interp(xs, *line[np.argsort(line[:, 0])].T) for line in (top, bottom))
        lid = (along > 0.25) & (along < 0.75) & (ys > y_top - 0.08 * width) & (ys < y_top + 0.4 * (y_bottom - y_top))
        below = (along > 0.1) & (along < 0.9) & (ys > y_bottom + 0.2 * width) & (ys < y_bottom + 0.4 * width)
        off.append(float(np.linalg.norm(lab[lid].mean(0)[1:] - lab[below].mean(0)[1:])))
    return off


@pytest.mark.parametrize(("side", "quality"), [(160, 60), (200, 80)])
def test_a_small_faces_closed_lid_has_the_colour_of_the_skin_around_the_eye(
    shrunk: Callable[..., FaceAnalysis], side: int, quality: int
) -> None:
    """Shrunk and saved as a JPEG, her eye's colour (eye white, iris, the lash line's fringes) bleeds into the skin
    around it, her lid skin included: grown from it and toned like it, her closed lids took that tint, 4.2 and 4.9
    (160 px, quality 60) and 5.3 and 1.8 (200 px, 80) off the skin below her eyes in colour; held-out 60-80 px
    faces' were pink or magenta-grey almonds (up to 16). Coloured like the skin over the eye past that bleed
    (eyes.AROUND_BAND): 2.1 and 0.7, 0.6 and 1.2."""
    face = shrunk(side, quality)
    puppet = Puppet(face)
    assert puppet.eyes is not None and puppet.eyes.softness > SHARP_SOFTNESS
    assert max(_lid_colour_off_skin(face, puppet.frame({"blink": 1.0}))) < 3.0


def test_a_small_faces_closed_lid_is_not_coloured_like_the_brows_over_it(
    analysed_aside: Callable[..., FaceAnalysis],
) -> None:
    """The skin over the crease that colours a soft photo's closed lid (eyes.AROUND_BAND) lies in the brows' blur on a
    small face with low brows or a squint: held-out faces of a group photo closed their eyes with orange eggs. Her
    photo shrunk to 240 px, with the band from her brows half way down to her eyes dyed a hair's orange-brown: her
    closed lids were 25.8 and 7.1 off the skin below her eyes in colour (CIELAB a and b; undyed 0.2 and 4.0). At most as
    coloured as the skin grown over the eye: 2.1 and 1.8 (undyed 0.2 and 2.6)."""
    from models.face import landmarks as lm
    from scripts.sample_photos import astronaut

    small = cv2.resize(astronaut(), (240, 240), interpolation=cv2.INTER_AREA)
    points = lm.landmarks(small, lm.detect_faces(small)[0])
    brows, lids = points[17:27, 1].min(), points[[37, 38, 43, 44], 1].min()
    band = slice(round(brows) - 4, round((brows + lids) / 2)), slice(round(points[17, 0]) - 4, round(points[26, 0]) + 4)
    dyed = small.astype(np.float32)
    dyed[band] *= np.array([1, 0.62, 0.38], np.float32)
    face = analysed_aside(np.clip(dyed + 0.5, 0, 255).astype(np.uint8))
    puppet = Puppet(face)
    assert puppet.eyes is not None and puppet.eyes.soft
    assert max(_lid_colour_off_skin(face, puppet.frame({"blink": 1.0}))) < 5.0
