"""A grin whose inner lips dlib misplaces: its teeth are found in the pixels, and lips pressed together hide them.

On a small, soft laughing face dlib put the inner points 61-63 and 65-67 on the left half of the mouth and the
upper inner line across the upper teeth; the teeth left outside the opening were warped as lip, an orange band
between lips that did not meet. Reproduced on the astronaut's toothy smile (which dlib fits well) by moving her
inner points the way dlib moved his."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.face import landmarks as lm
from models.face.analysis import FaceAnalysis, analyze_face, detect_photo_faces
from models.face.frame import INNER_CORNERS, INNER_GAPS, INNER_LIP, MOUTH_CORNERS, MOUTH_SLIT, OUTER_LIP
from models.face.lips import OUTER_OF_PAIRS, implausible, lips_uncrossed
from models.render.warp import Puppet
from scripts.sample_photos import astronaut, grace_hopper
from tests.unit.test_warp_mouth import TONES, toned

ALONG = (0.18, 0.31, 0.48)  # his inner pairs, as shares of the way between the inner corners
DROP = 0.05  # mouth widths: his upper inner line lay this far down across his teeth (11 px of 230)


def _as_on_the_laughing_face(points: np.ndarray) -> np.ndarray:
    """`points` with each inner lip's three middle points moved along it to ALONG, the upper middle two DROP down."""
    moved = points.copy()
    first, last = points[list(INNER_CORNERS)]
    axis = (last - first) / np.linalg.norm(last - first)
    span = float((last - first) @ axis)
    for chain in MOUTH_SLIT:
        lip = points[list(chain)]
        along = (lip - first) @ axis
        for index, share in zip(chain[1:-1], ALONG, strict=True):
            moved[index] = [np.interp(share * span, along, lip[:, k]) for k in (0, 1)]
    width = float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    moved[[62, 63]] += (0.0, DROP * width)
    return moved


def _fitted_and_misfitted(
    monkeypatch: pytest.MonkeyPatch, misfit: Callable[[np.ndarray], np.ndarray], photo: np.ndarray | None = None
) -> tuple[FaceAnalysis, FaceAnalysis]:
    """The astronaut (or `photo`) analysed as fitted, and as with dlib's landmarks moved by `misfit`."""
    photo = astronaut() if photo is None else photo
    fitted = analyze_face(photo, size=512)
    fit = lm.landmarks
    monkeypatch.setattr(lm, "landmarks", lambda rgb, box: misfit(fit(rgb, box)))
    return fitted, analyze_face(photo, size=512, face_index=0)  # another cache entry: analysed again


@pytest.fixture
def misfitted(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FaceAnalysis, FaceAnalysis]:
    """The astronaut analysed as she is fitted, and as she is with her inner lips fitted like his."""
    return _fitted_and_misfitted(monkeypatch, _as_on_the_laughing_face)


def _tooth_bright(frame: np.ndarray, fitted: FaceAnalysis, within: list[int] = OUTER_LIP) -> int:
    """Pixels inside her lips' outline (or the outline `within`) as bright and as little red as her teeth in the
    photo (their median)."""
    lab, photo = (cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32) for image in (frame, fitted.image))
    inner, region = (np.zeros((fitted.size, fitted.size), np.uint8) for _ in range(2))
    cv2.fillPoly(inner, [np.round(fitted.landmarks[INNER_LIP]).astype(np.int32)], 1)
    cv2.fillPoly(region, [np.round(fitted.landmarks[within]).astype(np.int32)], 1)
    teeth = (inner > 0) & (photo[..., 0] > 180)
    light, red = np.median(photo[..., 0][teeth]), np.median(photo[..., 1][teeth])
    return int(np.count_nonzero((region > 0) & (lab[..., 0] > light - 10) & (lab[..., 1] < red + 4)))


def test_lips_pressed_together_hide_teeth_that_dlib_left_outside_the_opening(misfitted) -> None:
    """Pressed together, her misfitted lips showed 144 tooth-bright pixels (a row of teeth smeared between them, of
    633 in her photo); her correctly fitted mouth shows 33 (the lips' own highlights), the misfitted one now 39."""
    fitted, misfit = misfitted
    assert implausible(_as_on_the_laughing_face(fitted.landmarks)) and not implausible(fitted.landmarks)
    photo = _tooth_bright(fitted.image, fitted)
    own = _tooth_bright(Puppet(fitted).frame({"lip_press": 1.0}), fitted)
    now = _tooth_bright(Puppet(misfit).frame({"lip_press": 1.0}), fitted)
    assert own < 0.1 * photo
    assert now < 0.1 * photo, (now, own, photo)


def test_an_open_mouth_that_dlib_fits_keeps_its_landmarks(data_dir: Path) -> None:
    """The astronaut's toothy smile (dlib's inner lips evenly spaced) is left as dlib fits it."""
    from models.face.lips import inner_lips_on_opening

    face = analyze_face(astronaut(), size=512)
    assert np.array_equal(inner_lips_on_opening(face.image, face.landmarks), face.landmarks)


PARTED = (0.2, 0.36, 0.54)  # a parted smile's inner pairs as dlib fitted them, as shares between the inner corners
PARTED_GAP = 0.06  # mouth widths: its lower inner line lay this far under the upper one, across the upper teeth


def _as_on_the_parted_smile(points: np.ndarray) -> np.ndarray:
    """`points` with each inner lip's three middle points moved along it to PARTED, the lower ones PARTED_GAP under
    the upper ones (down the face): the last pair 0.46 of the way from the far inner corner, under SPACING."""
    moved = points.copy()
    first, last = points[list(INNER_CORNERS)]
    axis = (last - first) / np.linalg.norm(last - first)
    down = np.array([-axis[1], axis[0]])
    span = float((last - first) @ axis)
    upper, lower = MOUTH_SLIT
    lip = points[list(upper)]
    along = (lip - first) @ axis
    width = float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    for top, bottom, share in zip(upper[1:-1], lower[1:-1], PARTED, strict=True):
        moved[top] = [np.interp(share * span, along, lip[:, k]) for k in (0, 1)]
        moved[bottom] = moved[top] + PARTED_GAP * width * down
    return moved


@pytest.fixture
def parted(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FaceAnalysis, FaceAnalysis]:
    """The astronaut analysed as she is fitted, and as she is with her inner lips fitted as on the parted smile."""
    return _fitted_and_misfitted(monkeypatch, _as_on_the_parted_smile)


def test_inner_lips_evenly_spaced_across_the_teeth_are_moved_out_to_the_opening(parted) -> None:
    """A held-out parted smile: dlib's inner pairs were spaced under SPACING (0.47 of the mouth) but its lower inner
    line lay across the upper teeth, 0.69 of them outside it. Its teeth were warped as lower lip: pressed together,
    the lips showed a pale band; opened, the photo's teeth hung below the drawn ones. Reproduced on the astronaut,
    her lips pressed together showed 323 tooth-bright pixels of 633 in her photo (33 fitted as she is); now 56. Her
    teeth, framed by where their colour fades into the lips', are drawn as for a photo that shows none."""
    fitted, misfit = parted
    assert not implausible(_as_on_the_parted_smile(fitted.landmarks))
    photo = _tooth_bright(fitted.image, fitted)
    now = _tooth_bright(Puppet(misfit).frame({"lip_press": 1.0}), fitted)
    assert now < 0.1 * photo, (now, photo)
    assert not misfit.teeth_visible and fitted.teeth_visible


def _outer_upper_lip_on_the_inner(points: np.ndarray) -> np.ndarray:
    """A copy of `points` with the outer upper lip between the corners (49-53) moved onto the upper inner line, where
    the upper teeth begin: as dlib fitted it on the smile behind a beard and on the laughing children."""
    moved = points.copy()
    first, last = points[list(INNER_CORNERS)]
    axis = (last - first) / np.linalg.norm(last - first)
    upper = points[list(MOUTH_SLIT[0])]
    along = (upper - first) @ axis
    for index in (49, 50, 51, 52, 53):
        at = float((points[index] - first) @ axis)
        moved[index] = [np.interp(at, along, upper[:, k]) for k in (0, 1)]
    return moved


def _as_behind_the_beard(points: np.ndarray) -> np.ndarray:
    """`points` with the upper lip fitted on the upper teeth, as dlib fitted a held-out smile behind a beard: its
    outer line where the teeth begin (her upper inner line), its inner points down on the lower inner ones."""
    moved = _outer_upper_lip_on_the_inner(points)
    moved[[61, 62, 63]] = points[[67, 66, 65]]
    return moved


@pytest.fixture
def bearded(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FaceAnalysis, FaceAnalysis]:
    """The astronaut analysed as she is fitted, and as she is with her upper lip fitted as on the bearded smile."""
    return _fitted_and_misfitted(monkeypatch, _as_behind_the_beard)


def test_a_lip_fitted_on_the_teeth_over_a_shut_inner_line_opens_on_them(bearded) -> None:
    """A held-out smile behind a beard: dlib shut its inner lips under its upper teeth (0.012 of the mouth apart) and
    fit its upper lip around them. Its teeth were warped as upper lip: pressed, its lips never met (closure rate
    0.15). Reproduced on the astronaut, her pressed lips showed the teeth; the inner upper lip now lies where they
    begin, and pressed together her lips hide them."""
    fitted, misfit = bearded
    photo = _tooth_bright(fitted.image, fitted)
    now = _tooth_bright(Puppet(misfit).frame({"lip_press": 1.0}), fitted)
    assert now < 0.1 * photo, (now, photo)
    width = misfit.frame.mouth_width
    assert misfit.mouth_open_px > 0.5 * fitted.mouth_open_px > 0.04 * width


SEAM = 0.03  # mouth widths either side of where pressed lips meet


def _tooth_light_where_pressed(puppet: Puppet, fitted: FaceAnalysis) -> int:
    """Pixels of the pressed frame within a band of SEAM mouth widths either side of where the lips meet (the rig's
    pressed inner lips) as light as the photo's teeth (their median, less 10 levels of Lab L): in a grey photo the
    lips' highlights are as little red as teeth, and only where they meet does a tooth-light pixel mean teeth."""
    controls = {"lip_press": 1.0}
    frame = puppet.frame(controls)
    moved = puppet.mesh.vertices[:68] + np.tensordot(puppet.rig.coefficients(controls), puppet.rig.bases, 1)[:68]
    seam = np.zeros((fitted.size, fitted.size), np.uint8)
    line = np.round(moved[list(MOUTH_SLIT[0])] * 16).astype(np.int32)
    width = float(np.linalg.norm(moved[MOUTH_CORNERS[1]] - moved[MOUTH_CORNERS[0]]))
    cv2.polylines(seam, [line], False, 1, 2 * round(SEAM * width) + 1, cv2.LINE_8, 4)
    photo = cv2.cvtColor(fitted.image, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    inner = np.zeros_like(seam)
    cv2.fillPoly(inner, [np.round(fitted.landmarks[INNER_LIP]).astype(np.int32)], 1)
    light = np.median(photo[(inner > 0) & (photo > 180)])
    return int(np.count_nonzero((seam > 0) & (cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)[..., 0] > light - 10)))


@pytest.mark.parametrize("tint", [(1.0, 1.0, 1.0), *TONES.values()], ids=["grey", *TONES.keys()])
def test_grey_lips_pressed_together_hide_teeth_that_dlib_left_outside_the_opening(
    tint: tuple[float, float, float], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A black-and-white photo has no redness to tell its teeth from its lips by: they are told by their lightness
    alone. dlib fitted the upper inner lip of a small grey face speaking (a mustache, the mouth a little open) a
    third of the way down across its upper teeth; nothing was found in the pixels, the teeth above that line were
    warped as upper lip, and pressed, the lips kept a pale lens of teeth between them. Reproduced on the astronaut
    made grey, her inner lips moved the way dlib moved the laughing face's: pressed, 212 tooth-light pixels lay
    where her lips met (a row of teeth), against 80 fitted as she is (her lips' own highlights); now 112 (one
    shaded tooth near a corner, darker than the teeth found, stays a speck on the seam). A toned photo (sepia, cool:
    tone.photo_tint) has no redness either: toned so, 218 and 215 such pixels (79 and 77 fitted); now 97 and 91."""
    photo = toned(cv2.cvtColor(astronaut(), cv2.COLOR_RGB2GRAY), tint)
    fitted = analyze_face(photo, size=512)
    fit = lm.landmarks
    monkeypatch.setattr(lm, "landmarks", lambda rgb, box: _as_on_the_laughing_face(fit(rgb, box)))
    misfit = analyze_face(photo, size=512, face_index=0)  # another cache entry: analysed again
    own = _tooth_light_where_pressed(Puppet(fitted), fitted)
    now = _tooth_light_where_pressed(Puppet(misfit), fitted)
    assert now < 1.5 * own, (now, own)


def _mouth(face: FaceAnalysis) -> tuple[slice, slice]:
    """Rows and columns around her lips' outline, a few pixels wider."""
    x0, y0 = np.floor(face.landmarks[OUTER_LIP].min(0)).astype(int) - 4
    x1, y1 = np.ceil(face.landmarks[OUTER_LIP].max(0)).astype(int) + 4
    return slice(y0, y1), slice(x0, x1)


def test_a_toothy_smile_whose_inner_lips_dlib_misplaced_opens_on_its_own_teeth(misfitted) -> None:
    """A held-out big toothy smile: dlib's inner pairs bunched towards one corner (spacing 0.57), its lips were read
    from the pixels, and as for every mouth read so its teeth were drawn, not its own: opened, it read as another
    face (identity 0.38; 0.34 with its own teeth). Its teeth are bright, as the laughing face's were not, and are
    kept. Reproduced on the astronaut misfitted as the laughing face: opened, her drawn teeth were a chevron with her
    lip through it, 17.8 levels (the mean around her lips) off her fitted mouth opened; on her own teeth, 11.6."""
    fitted, misfit = misfitted
    assert fitted.teeth_visible and misfit.teeth_visible
    box = _mouth(fitted)
    own, misfit_open = (Puppet(face).frame({"jaw_open": 0.5})[box].astype(float) for face in (fitted, misfit))
    assert np.abs(own - misfit_open).mean() < 14.0


DIM_BAND = 0.05  # mouth widths: the dim lower teeth painted over the top of her lower lip
DIM_LIGHTER = 18.0  # Lab L levels: lighter than her lower lip, and as red (the held-out smile's: 165 against 148)


def _with_dim_lower_teeth(photo: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`photo` with her lower lip evened to its median colour and dim lower teeth (DIM_LIGHTER lighter than it, as red
    and as yellow) painted DIM_BAND of her mouth's width thick under her lower inner line, all but its last tenth at
    either corner; and the teeth's bottom edge (x, y per column of the photo): where her lower lip now begins."""
    width = float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    lab = cv2.cvtColor(photo, cv2.COLOR_RGB2LAB).astype(np.float32)
    lower = np.zeros(photo.shape[:2], np.uint8)
    cv2.fillPoly(lower, [np.round(points[[60, 67, 66, 65, 64, 55, 56, 57, 58, 59]]).astype(np.int32)], 1)
    lip = np.median(lab[lower > 0], axis=0)
    line = points[list(MOUTH_SLIT[1])]
    first, last = line[0, 0], line[-1, 0]
    xs = np.arange(int(np.ceil(first + 0.1 * (last - first))), int(last - 0.1 * (last - first)) + 1)
    tops = np.interp(xs, line[:, 0], line[:, 1])
    bottoms = np.round(tops + DIM_BAND * width)
    lab[lower > 0] = lip  # her lower lip evened to its median colour (its gloss as light as teeth so dim)
    for x, top, bottom in zip(xs, np.round(tops).astype(int), bottoms.astype(int), strict=True):
        lab[top:bottom, x] = (lip[0] + DIM_LIGHTER, lip[1], lip[2])
    edited = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    return edited, np.stack([xs, bottoms - 0.5], 1).astype(np.float32)


def test_a_lower_inner_lip_read_over_dim_lower_teeth_lands_on_the_lower_lips_edge(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A held-out big toothy smile: dlib's inner lips were implausibly spaced and read from the pixels, but its dim
    lower teeth, in the mouth's shade, were neither lighter nor less red than its lips enough to be found: its lower
    inner line stayed on the bottom of the upper teeth across the far third of the mouth, and the lower teeth under it
    were warped as lower lip (pressed, bits of teeth where the lips met, p/b/m 0.152; opened, light fragments on the
    lower lip). Reproduced on the astronaut with dim lower teeth painted under her upper teeth (2.3 px of the photo,
    0.05 of her mouth) over her lower lip evened to its median colour, her inner lips moved as the laughing face's:
    her lower inner points lay 0.04-0.08 of her mouth above the lower lip's edge, on the bottom of her upper teeth;
    now within 0.003 of it."""
    photo = astronaut()
    fit = lm.landmarks
    box = detect_photo_faces(photo).boxes[0]
    edited, edge = _with_dim_lower_teeth(photo, fit(photo, box))
    fitted = fit(edited, detect_photo_faces(edited).boxes[0])
    monkeypatch.setattr(lm, "landmarks", lambda rgb, box: _as_on_the_laughing_face(fit(rgb, box)))
    misfit = analyze_face(edited, size=512)
    # the photo's pixels in the framed one: the framing's affine map, read off her jaw, brows and nose (unmoved)
    source = np.hstack([fitted[:36], np.ones((36, 1), np.float32)])
    affine = np.linalg.lstsq(source, misfit.landmarks[:36], rcond=None)[0]
    edge = np.hstack([edge, np.ones((len(edge), 1), np.float32)]) @ affine
    width = misfit.frame.mouth_width
    off = [float(misfit.landmarks[index, 1] - np.interp(misfit.landmarks[index, 0], *edge.T)) for index in (67, 66, 65)]
    assert np.all(np.abs(off) < 0.02 * width), np.round(np.array(off) / width, 3)


ON_TEETH = 0.25  # of the way from her upper inner lip to her lower one: the misfit upper inner lip, across her teeth


def _as_on_the_laughing_children(points: np.ndarray) -> np.ndarray:
    """`points` with the upper lip fitted onto the upper teeth of a wide-open mouth, as dlib fitted two held-out
    children laughing: the outer upper lip on the teeth's top (her upper inner line), the inner upper lip ON_TEETH of
    the way down to the lower inner lip, across the teeth (evenly spaced, as dlib spaced theirs)."""
    moved = _outer_upper_lip_on_the_inner(points)
    moved[[61, 62, 63]] += ON_TEETH * (points[[67, 66, 65]] - points[[61, 62, 63]])
    return moved


@pytest.fixture
def laughing(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FaceAnalysis, FaceAnalysis]:
    """The astronaut opened wide by the rig and taken as a photo (her own upper teeth over a dark mouth, as the
    children's), analysed as dlib fits her, and as she is with her upper lip fitted as on the laughing children."""
    photo = Puppet(analyze_face(astronaut(), size=512)).frame({"jaw_open": 1.0})
    fitted = analyze_face(photo, size=512)
    fit = lm.landmarks
    monkeypatch.setattr(lm, "landmarks", lambda rgb, box: _as_on_the_laughing_children(fit(rgb, box)))
    return fitted, analyze_face(photo, size=512, face_index=0)  # another cache entry: analysed again


def test_an_upper_lip_fitted_on_the_teeth_of_a_wide_open_mouth_moves_off_them(laughing) -> None:
    """Two held-out children laughing wide open: dlib fit the outer upper lip on the top of their upper teeth and the
    inner one across them, evenly spaced, most of the opening inside it (the tongue, the dark mouth). Their teeth
    were warped as upper lip: pressed, a white line of teeth stayed between the lips (p/b/m aperture 0.23 and 0.54 of
    the open vowels'). Reproduced on the astronaut opened wide, her pressed lips showed 396 tooth-bright pixels of
    473 in that photo (16 fitted as she is); the upper lip now lies above her teeth and hides them pressed, and
    they are drawn as her own. Counted inside her opening, where they show: since her own teeth run on up under a
    risen upper lip (mouth._teeth_under_lip) the opened photo's meet her lip, their median is a little darker, and
    inside a wide-open mouth's outer outline the skin's highlights above and below the pressed lips passed for teeth
    (79 of 588; by eye no tooth shows between them, where a white strip of them showed before: 15 of 560 in the
    opening, 19 of 464 before)."""
    fitted, misfit = laughing
    assert not implausible(_as_on_the_laughing_children(fitted.landmarks))
    photo = _tooth_bright(fitted.image, fitted, INNER_LIP)
    now = _tooth_bright(Puppet(misfit).frame({"lip_press": 1.0}), fitted, INNER_LIP)
    assert now < 0.1 * photo, (now, photo)
    assert misfit.teeth_visible and fitted.teeth_visible  # her own teeth, drawn when opened


def _crossed_as_on_the_washed_out_face(points: np.ndarray) -> np.ndarray:
    """`points` with the inner lips crossed as dlib crossed a held-out washed-out small face's: each inner upper
    point on the outer lower lip under it, each inner lower one on the outer upper lip over it."""
    moved = points.copy()
    for (upper, lower), (over, under) in zip(INNER_GAPS, OUTER_OF_PAIRS, strict=True):
        moved[upper], moved[lower] = points[under], points[over]
    return moved


@pytest.fixture
def crossed(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FaceAnalysis, FaceAnalysis]:
    """Grace Hopper's closed mouth analysed as fitted, and with her inner lips crossed."""
    return _fitted_and_misfitted(monkeypatch, _crossed_as_on_the_washed_out_face, grace_hopper())


def test_inner_lips_that_dlib_crossed_meet_between_the_outer_lips(crossed) -> None:
    """Crossed inner lips are a closed mouth. Before, the crossing's length read as her photo's opening
    (mouth_open_px 18.8), and the rig, closing it, ran the lips through each other: her mouth 26 grey levels from
    her well-fitted one's at rest and pressed, 37 opened (mean over its box). Now each pair meets between the outer
    lips, and she draws about as fitted (2.4 at rest and pressed, 7.7 opened: her lips meet a little lower)."""
    fitted, misfit = crossed
    assert np.array_equal(lips_uncrossed(fitted.landmarks), fitted.landmarks)  # her own fit: not crossed
    points, down = misfit.landmarks, misfit.frame.down
    assert misfit.mouth_open_px < 0.5, misfit.mouth_open_px
    for (upper, lower), (over, under) in zip(INNER_GAPS, OUTER_OF_PAIRS, strict=True):
        assert np.allclose(points[upper], points[lower])
        assert points[over] @ down < points[upper] @ down < points[under] @ down
    box = _mouth(fitted)
    for controls, most in (({}, 5.0), ({"lip_press": 1.0}, 5.0), ({"jaw_open": 0.5}, 12.0)):
        drawn, own = (Puppet(face).frame(controls)[box].astype(np.float32) for face in (misfit, fitted))
        assert float(np.abs(drawn - own).mean()) < most, controls
