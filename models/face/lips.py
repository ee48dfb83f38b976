"""The inner lip line of a photo's open mouth, read from its pixels where dlib's inner-lip landmarks are implausible.

On a small, soft grin dlib can fit the inner lips off the mouth: on one laughing face its inner points 61-63 and
65-67 lay on the left half of the mouth while 64 lay at its right corner, the upper inner line crossed the upper
teeth, and the teeth left outside it were warped as lip (a smeared band between lips pressed together). Where the
inner points are spaced so (`implausible`), the opening is found in the photo: teeth (brighter and less red than the
lips) and the thin dark rims joining them (the shade under the upper lip, the cavity's edge, the commissures), near
dlib's inner lips and inside its outer ones. The inner-lip pairs are spread evenly between dlib's inner corners and
moved out to its edge, never in; the outer lips move out with them. Evenly spaced inner lips (the gallery's faces,
toothy smiles included) are left as dlib fits them. So are they where most of the opening found in the photo
lies outside dlib's inner-lip polygon (`_outside`): on a parted smile dlib's inner points were spaced 0.47 of the
mouth apart, under SPACING, its lower inner line lay across the upper teeth, and 0.69 of the teeth lay outside it
(0.30 on the astronaut's smile, 0.01 on her smaller copy). Where dlib shut the inner lips and fit a lip's outline
around the teeth, the teeth are looked for inside that lip (`_teeth_in_a_lip`). Where they were implausibly spaced,
a lower inner point left on teeth moves down to the lower lip's edge over dim lower teeth, no lighter or less red
than the lips enough to be found (`_lower_lip_over_dim_teeth`). Where dlib fit an open mouth's upper lip over its
upper teeth (its outer line on their top, its inner one across them), the upper lip moves up off them and the lower
inner lip down off any lower teeth (`upper_lip_off_teeth`). Where dlib crossed the inner lips (a lower point above
its upper one: a closed mouth), each such pair meets between the outer lips (`lips_uncrossed`), before all of this.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.face.frame import (
    INNER_CORNERS,
    INNER_GAPS,
    INNER_LIP,
    MOUTH_SLIT,
    OUTER_LIP,
    UPPER_LIP_OUTLINE,
    FaceFrame,
    lips_crossed,
    mouth_opening,
)
from models.face.tone import photo_tint

MIN_OPEN = 0.04  # mouth widths: a mouth opened less than this (dlib's inner lips) is left alone
BLUR = 0.008  # mouth widths: the photo is smoothed this much before its pixels are read
REACH = 0.04  # mouth widths: the lips' outline is widened this much to look for the opening in...
INNER_REACH = 0.08  # ... no further than this from dlib's inner-lip polygon
TEETH_CONTRAST = (20.0, 6.0)  # Lab L and a*: teeth at least this much brighter and less red than the lips, or no fix
TEETH_SPLIT = 0.5  # a tooth pixel lies this far from the lips' L and a* towards the teeth's
RIM = 0.08  # mouth widths: a shadow line (cavity, commissure, lip shadow) is narrower than this...
RIM_DARK = 0.25  # ... darker than what lies around it by this share of the teeth-to-lips contrast...
RIM_BELOW_LIPS = 0.1  # ... and than the lips by this share of it (a thin lip between teeth and skin is no rim)...
RIM_REACH = 0.03  # ... and comes this close to the teeth (mouth widths)
TOOTH_GAPS = 0.03  # mouth widths: gaps between teeth narrower than this are closed
# dlib's inner lips are implausible where two neighbours along a lip (corners included) lie further apart than
# this share of the corner-to-corner width: 0.33 .. 0.42 on the gallery's faces, 0.52 on the laughing face. (0.47
# on a parted smile whose own teeth, moved out so, were drawn with the shadow above them as a dark band when opened)
SPACING = 0.5
OUTSIDE = 0.5  # ... or where more than this share of the opening found in the pixels lies outside their polygon
# An open mouth that shows no teeth is its dark inside: darker than DARK_INSIDE of its lips' median lightness, joined
# to the dark inside dlib's inner lips, above its lower inner lip, across at least DARK_SPAN of the way between its
# inner corners and DARK_THICK mouth widths thick (its columns' median). A small held-out face shouting (blurred, no
# teeth in sight): dlib's upper inner lip lay over half way down its dark inside, whose upper part the rig took for
# upper lip: pressed, a dark band stayed over the lips where they met (p/b/m 0.39 of its open vowels). Its inside
# 0.68 across and 0.13 thick. Without the last two, seven more of the 106 held-out and sample faces moved their lips
# onto dark lines and corners 0.025-0.08 thick (a purple-lipped smile's dark crease, 0.97 across; a mouth's two dark
# corners, 0.30); looked for below the lower inner lip too, that smile's lower lip in dark lipstick joined its crease
DARK_INSIDE = 0.65
DARK_SPAN = 0.5
DARK_THICK = 0.1
ALONG = (0.25, 0.5, 0.75)  # where the inner-lip pairs (INNER_GAPS) are put between the inner corners
OUTER_CHAINS = ((49, 50, 51, 52, 53), (59, 58, 57, 56, 55))  # the outer lips' landmarks over / under MOUTH_SLIT's
# dlib can shut the inner lips over an open mouth's teeth and fit one lip's outline around them (a held-out smile behind
# a beard: its outer upper lip on the top of its upper teeth, its inner lips under them 0.012 of the mouth apart; the
# teeth were warped as upper lip, and pressed, its lips never met: closure rate 0.15). The teeth are looked for inside
# the upper lip's outline (TEETH_LIP; no face showed the lower one so), and taken for an opening where they are
# CLOSED_OPEN of the mouth's width thick (the 90th percentile of its columns; that face's 0.075). They fill a share of
# the outline only: their colour is that of its brightest tenth, which must be greyer than the lips (its chroma at most
# LIP_TEETH_GREYER of theirs): a closed mouth's brightest tenth there is the skin over its upper lip, as colourful as
# the lips (without it, at least the gallery's four Grace Hoppers, two_people and four held-out faces opened; of
# the 44 gallery and held-out faces, with it, that one alone)
TEETH_LIP = UPPER_LIP_OUTLINE
CLOSED_OPEN = 0.04
LIP_TEETH_BRIGHTEST = 90.0
LIP_TEETH_GREYER = 0.5
# dlib can fit an open mouth's upper lip onto its upper teeth: the outer upper lip on the teeth's top, the inner one
# across them (two held-out children laughing wide open, their teeth warped as upper lip: pressed, a white line of
# teeth stayed between the lips). The teeth are looked for inside the upper lip's outline as where dlib shut the
# lips (TEETH_LIP), and the upper lip moved off them where they fill UPPER_LIP_TEETH of that outline: 0.43 and 0.54
# on those two; 0.19 on a third child whose inner lip lies on her teeth's top (its corners' slope cuts their ends:
# moved so, her p/b/m went from 0.167 to 0.270 of the open vowels'), and no teeth found there on the other open
# mouths of the gallery and the held-out sets
UPPER_LIP_TEETH = 0.3
# ... and the outer upper lip there lies at the teeth's top too (those two children: their thin upper lip, 6-7 px at
# 512, lay above it): it moves up to where the lip's redness (Lab a*, 157-167 at its reddest) falls half way to the
# skin's above it (141-147), looked for within this share of the mouth's width above the teeth (their mouths 99 and
# 101 px wide, the lip's top 7-10 px above the teeth). Left on the teeth's top, no lip lay above their ends in the
# upper lip's outline to paint them over with (models/render/mouth._lip_stretched_over): pressed, a white speck of
# teeth at each corner
LIP_ABOVE_TEETH = 0.2
LIP_REDDER = 4.0  # Lab a*: ... where its reddest is at least this much redder than the skin (2.4 at a corner, 10-22)
# dlib can fit the lower inner lip onto the top of the lower teeth: on an open mouth showing its lower teeth a dark
# line (the shade where the teeth meet the lower lip) lies under the teeth, inside the lip. A lower inner-lip landmark
# moves down onto such a line found on its way to the outer lip (in LOWER_SEARCH of that way, after something
# lighter than it by LOWER_DIP of the lip's lightness) where the line is darker than LOWER_DARK of the lip's lightness
# (the lip: the last LOWER_LIP of that way). Grace Hopper opened by the rig and analysed again: 0.67-0.72 at her
# lower teeth; on the gallery's photos nothing that dark (0.89 at most, on a lip's crease of two_people).
LOWER_PAIRS = ((67, 58), (66, 57), (65, 56))  # lower inner-lip landmark, the outer one under it
LOWER_SEARCH = 0.6
LOWER_DIP = 0.06
LOWER_DARK = 0.8
LOWER_LIP = 0.4
# A black-and-white or toned photo (tone.photo_tint: grey, sepia, cool, a faintly tinted scan) has no redness
# to tell its teeth from its lips by: they are told by their lightness alone. Told by both, a small grey face
# speaking (mustache, mouth a little open), whose upper inner lip dlib fitted a third of the way down across its upper
# teeth, had nothing found in its pixels: the teeth above that line were warped as upper lip and, pressed, stayed a
# pale lens between the lips (dlib's p/b/m aperture 0.354 of its open vowels'). Colour photos are told as before.
# Where dlib's inner lips are implausible its lower inner line is not the lower lip's edge, and the opening read from
# the pixels ends where the teeth stop being lighter and less red than the lips: dim lower teeth, in the mouth's shade,
# are neither (a held-out big toothy smile: a* 145, its lower lip's 143-145). Its lower inner line stayed on the
# bottom of the upper teeth across the far third of the mouth; the lower teeth under it were warped as lower lip
# (pressed, bits of teeth between the lips; opened, light fragments on the lower lip). A lower inner-lip landmark
# that lies on something lighter than its lip by DIM_TEETH levels of Lab L moves down the face (along which the rig
# closes it onto its upper one) to the lower lip's edge: past the last thing on its way to the outer lip (within
# LOWER_SEARCH of that way) lighter or darker than the lip by DIM_TEETH (the teeth, the dark line under them, the
# dim teeth under that), the lip's lightness read on the last LOWER_LIP of that way. Not where the way to its outer
# one crosses a dark line under the teeth (LOWER_PAIRS): lower_lip_under_teeth moves it there, as before.
DIM_TEETH = 10.0
# dlib can cross the inner lips: on small soft faces it fit a lower inner-lip landmark above its upper one, up to a
# quarter of the mouth's width (a washed-out closed mouth: the inner upper lip below the outer lower one, the inner
# lower above the outer upper). mouth_opening counted the pair's length, not its side (now a crossed pair is no gap),
# so the rig took the closed mouth for an open one, and closing it ran the lips further through each other: a dark
# ring round a pale lens of teeth when opened, folded lips when pressed. Such a pair is a closed mouth: both move to
# where their lips meet, their midpoint, kept within LIPS_MEET of the way from the outer upper lip to the outer lower
# one (the closed mouths of the sample and held-out faces meet 0.25-0.52 of that way, their cupid's bow's middle the
# highest)
LIPS_MEET = (0.25, 0.6)
OUTER_OF_PAIRS = ((50, 58), (51, 57), (52, 56))  # the outer lips over and under each of INNER_GAPS


def lips_uncrossed(points: np.ndarray) -> np.ndarray:
    """`points` with each inner-lip pair (INNER_GAPS) whose lower landmark lies above its upper one (along the face's
    down) moved, both, to where the lips meet: their midpoint, kept within LIPS_MEET of the way between the outer
    lips over and under them. Uncrossed pairs stay where they are."""
    down = FaceFrame.of(points).down
    moved = points.copy()
    for (upper, lower), (over, under), crossed in zip(INNER_GAPS, OUTER_OF_PAIRS, lips_crossed(points), strict=True):
        if not crossed:
            continue
        meet = (points[upper] + points[lower]) / 2
        top, bottom = float(points[over] @ down), float(points[under] @ down)
        low, high = (top + share * (bottom - top) for share in LIPS_MEET)
        if high > low:
            at = float(meet @ down)
            meet = meet + (min(max(at, low), high) - at) * down
        moved[upper] = moved[lower] = meet
    return moved


def inner_lips_on_opening(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`points` with the inner-lip landmarks of an open mouth moved out to the edge of its opening found in the RGB
    `image` (its teeth and the rims joining them, or where it shows no teeth its dark inside: `_dark_inside`), where
    dlib's are implausibly spaced (`implausible`) or leave most of that opening outside them;
    elsewhere `points` as they are. A mouth dlib shuts over the photo's teeth is open too (`_teeth_in_a_lip`)."""
    width = _open_width(points)
    if width is None:
        return _teeth_in_a_lip(image, points)
    found = _opening(image, points, width)
    if found is None:
        found = _dark_inside(image, points, width)
    if found is None or not (implausible(points) or _outside(points, *found) > OUTSIDE):
        return points
    moved = _on_edge(points, *found)
    return _lower_lip_over_dim_teeth(image, moved, width) if implausible(points) else moved


def _lower_lip_over_dim_teeth(image: np.ndarray, points: np.ndarray, width: float) -> np.ndarray:
    """`points` with each lower inner-lip landmark that lies on something lighter than its lip (by DIM_TEETH) moved
    down the face to the lower lip's edge: just past the last thing on its way to the outer lower lip (within
    LOWER_SEARCH of it) lighter or darker than the lip by DIM_TEETH (DIM_TEETH's comment)."""
    smoothed = smoothed_lab(image, width)[..., 0]
    light = smoothed.astype(np.float32)
    frame = FaceFrame.of(points)
    first, last = points[list(INNER_CORNERS)]
    axis = frame.right if (last - first) @ frame.right >= 0 else -frame.right
    outer = points[[48, *OUTER_CHAINS[1], 54]]
    outer_along, outer_across = (outer - first) @ axis, (outer - first) @ frame.down
    order = np.argsort(outer_along)
    moved = points.copy()
    for index, outer_index in LOWER_PAIRS:
        start = points[index]
        if _dark_line_under(smoothed, start, points[outer_index]) is not None:
            continue  # lower_lip_under_teeth moves it onto the dark line under the teeth
        depth = float(np.interp((start - first) @ axis, outer_along[order], outer_across[order])) - float(
            (start - first) @ frame.down
        )
        steps = int(2 * depth) + 1
        if steps < 8:
            continue
        path = start + np.linspace(0.0, depth, steps)[:, None] * frame.down
        xy = path.astype(np.float32)[:, None, :]
        profile = cv2.remap(light, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR)[:, 0]
        lip = float(np.median(profile[int((1 - LOWER_LIP) * steps) :]))
        if profile[0] < lip + DIM_TEETH:
            continue  # on the lip, or on a dark rim: where the opening's edge is
        unlike = np.nonzero(np.abs(profile[: int(LOWER_SEARCH * steps)] - lip) > DIM_TEETH)[0]
        moved[index] = path[min(int(unlike[-1]) + 1, steps - 1)]
    return moved.astype(np.float32)


def _teeth_in_a_lip(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`points` with the inner lips moved out to the edge of the photo's teeth where dlib shut them (closer than
    MIN_OPEN) and fit the upper lip around the teeth (TEETH_LIP: looked for inside its outline, at least CLOSED_OPEN
    thick); elsewhere `points` as they are. The teeth alone are the opening: the dark shade under the upper lip stays
    on it, the line where the lips meet pressed (joined to the opening and grown over, the pressed lips were one band
    with no line between them, which dlib read as apart: 0.05 of the mouth, against 0.02 now)."""
    width = FaceFrame.of(points).mouth_width
    if width < 8:
        return points
    found = _opening(image, points, width, in_lip=TEETH_LIP)
    if found is None or _thickness(found[0]) < CLOSED_OPEN * width:
        return points
    return _on_edge(points, *found)


def upper_lip_off_teeth(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`points` with the upper inner lip of an open mouth moved up to the top of the photo's upper teeth (the outer
    upper lip above it: `_outer_upper_lip_above`) and the lower inner lip down off any lower teeth
    (`_lower_lip_over_dim_teeth`), where dlib fit the upper lip's outline over the upper teeth (UPPER_LIP_TEETH of it
    teeth: TEETH_LIP's search); elsewhere `points` as they are."""
    width = _open_width(points)
    found = None if width is None else _opening(image, points, width, in_lip=TEETH_LIP)
    if found is None:
        return points
    teeth, corner = found
    lip = polygon_mask(points[TEETH_LIP] - np.asarray(corner, np.float32), teeth.shape)
    if np.count_nonzero(teeth & lip) < UPPER_LIP_TEETH * np.count_nonzero(lip):
        return points
    moved = _on_edge(points, teeth, corner)
    return _lower_lip_over_dim_teeth(image, _outer_upper_lip_above(image, moved, teeth, corner, width), width)


def _outer_upper_lip_above(
    image: np.ndarray, points: np.ndarray, teeth: np.ndarray, corner: tuple[int, int], width: float
) -> np.ndarray:
    """`points` with each outer upper-lip landmark between the corners moved up to the lip's top edge above the
    `teeth` (a crop's boolean mask whose first pixel lies at `corner`) in its column, where that lies further up:
    up the face from the teeth's top, past the reddest of the lip (Lab a*, within LIP_ABOVE_TEETH of the mouth's
    `width`) to where the redness falls half way to the skin's at the search's end (LIP_ABOVE_TEETH's comment)."""
    red = smoothed_lab(image, width)[..., 1].astype(np.float32)
    frame = FaceFrame.of(points)
    up = -frame.down
    ys, xs = np.nonzero(teeth)
    pixels = np.stack([xs, ys], 1).astype(np.float32) + corner
    steps = np.arange(0.0, LIP_ABOVE_TEETH * width, 0.5, dtype=np.float32)
    moved = points.copy()
    for index in OUTER_CHAINS[0]:
        across = (pixels - points[index]) @ frame.right
        column = pixels[np.abs(across) < 1.0]
        if not len(column):
            continue
        top = column[np.argmax(column @ up)]  # the teeth's top in the landmark's column
        path = (top + steps[:, None] * up).astype(np.float32)[:, None, :]
        profile = cv2.remap(red, path[..., 0], path[..., 1], cv2.INTER_LINEAR)[:, 0]
        peak = int(np.argmax(profile))
        if profile[peak] - profile[-1] < LIP_REDDER:
            continue  # no lip told from the skin above it
        half = (profile[peak] + profile[-1]) / 2
        beyond = np.flatnonzero(profile[peak:] < half)
        if not len(beyond):
            continue
        edge = top + steps[peak + int(beyond[0])] * up
        if (edge - points[index]) @ up > 0:
            moved[index] = edge
    return moved


def _thickness(opening: np.ndarray) -> float:
    """The `opening`'s height in px (a boolean mask, one run per column) in its thickest tenth of columns."""
    heights = np.count_nonzero(opening, axis=0)
    return float(np.percentile(heights[heights > 0], 90)) if heights.any() else 0.0


def lower_lip_under_teeth(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`points` with each lower inner-lip landmark of an open mouth moved down onto the dark line under the lower
    teeth, where dlib fit it over them (LOWER_PAIRS); elsewhere `points` as they are. Left on the teeth, the lower
    teeth lay outside the opening, were warped as lip and stayed between lips pressed together (Grace Hopper
    opened by the rig and taken as a photo: a pressed frame read 0.13, not closed)."""
    width = _open_width(points)
    if width is None:
        return points
    light = smoothed_lab(image, width)[..., 0]
    moved = points.copy()
    for inner, outer in LOWER_PAIRS:
        under = _dark_line_under(light, points[inner], points[outer])
        if under is not None:
            moved[inner] = under
    return moved


def _dark_line_under(light: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray | None:
    """Where the way from a lower inner-lip landmark (`start`) to its outer one (`end`) crosses the dark line under
    the lower teeth (LOWER_PAIRS' comment) in the lightness `light` (the photo smoothed, Lab L); None where it
    crosses none."""
    steps = int(2 * np.linalg.norm(end - start)) + 1
    if steps < 8:
        return None
    path = start + np.linspace(0.0, 1.0, steps)[:, None] * (end - start)
    xy = path.astype(np.float32)[:, None, :]
    profile = cv2.remap(light, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR).astype(np.float32)[:, 0]
    lip = float(np.median(profile[int((1 - LOWER_LIP) * steps) :]))
    reach = int(LOWER_SEARCH * steps)
    dips = np.maximum.accumulate(profile[: reach - 1]) - profile[1:reach]  # below the lightest thing above
    dips[profile[1:reach] >= LOWER_DARK * lip] = -np.inf
    valley = int(np.argmax(dips))
    return path[valley + 1] if dips[valley] >= LOWER_DIP * lip else None


def teeth_in_pixels(image: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """The open mouth's teeth as the RGB `image` shows them (told from its lips by their redness alone: in a
    corner's shade they are no lighter than the lips), a boolean mask of the whole image; None where the mouth is
    closed or shows no teeth distinct from its lips."""
    width = _open_width(points)
    if width is None:
        return None
    found = _opening(image, points, width, teeth_by_red=True)
    if found is None:
        return None
    opening, (x, y) = found
    mask = np.zeros(image.shape[:2], bool)
    mask[y : y + opening.shape[0], x : x + opening.shape[1]] = opening
    return mask


def _open_width(points: np.ndarray) -> float | None:
    """The mouth's width (px) where it is at least 8 px wide and open by MIN_OPEN of it (dlib's inner lips), else
    None: what the searches in the pixels need to find anything."""
    width = FaceFrame.of(points).mouth_width
    return None if width < 8 or mouth_opening(points) < MIN_OPEN * width else width


def implausible(points: np.ndarray) -> bool:
    """Whether two neighbours on an inner lip, corners included, lie more than SPACING of the way from one inner
    corner to the other apart (across the face)."""
    first, last = points[list(INNER_CORNERS)]
    right = FaceFrame.of(points).right
    span = float((last - first) @ right)
    if abs(span) < 1e-6:
        return False
    return any(float(np.max(np.diff((points[list(chain)] - first) @ right / span))) > SPACING for chain in MOUTH_SLIT)


def _outside(points: np.ndarray, opening: np.ndarray, corner: tuple[int, int]) -> float:
    """The share of the `opening` (a crop whose first pixel lies at `corner`) outside dlib's inner-lip polygon."""
    inner = polygon_mask(points[INNER_LIP] - np.asarray(corner, np.float32), opening.shape)
    return float(np.count_nonzero(opening & ~inner)) / max(np.count_nonzero(opening), 1)


def smoothed_lab(image: np.ndarray, width: float) -> np.ndarray:
    """The RGB `image` smoothed by BLUR of the mouth's `width` (at least 0.7 px), in CIE Lab (uint8)."""
    return cv2.cvtColor(cv2.GaussianBlur(image, (0, 0), max(0.7, BLUR * width)), cv2.COLOR_RGB2LAB)


def _opening(
    image: np.ndarray,
    points: np.ndarray,
    width: float,
    teeth_by_red: bool = False,
    in_lip: list[int] | None = None,
) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The opening (teeth and the dark rims joining them) as a boolean mask of a crop around the mouth, and the
    crop's first pixel in `image`; None where the photo shows no teeth distinct from its lips. `teeth_by_red`: the
    teeth alone, told from the lips by their redness alone. `in_lip`: the teeth alone, inside that lip's outline
    (dlib shut its inner lips under them, TEETH_LIP), its brightest tenth, told from the lips by their redness and
    their greyness (LIP_TEETH_GREYER): the shaded teeth under the lip are no lighter than it. In a black-and-white
    or toned photo (tone.photo_tint) the teeth are told by their lightness alone, whichever the search."""
    low, crop, inner, outline = _mouth_crop(image, points, width, in_lip)
    lab = smoothed_lab(crop, width).astype(np.float32)
    light, red = lab[..., 0], lab[..., 1]
    lips = outline & ~inner
    if np.count_nonzero(inner) < 12 or np.count_nonzero(lips) < 12:
        return None
    bright = light[inner] >= np.percentile(light[inner], 67 if in_lip is None else LIP_TEETH_BRIGHTEST)
    teeth_light, teeth_red = float(np.median(light[inner][bright])), float(np.median(red[inner][bright]))
    redder = red[lips] >= np.median(red[lips])
    lip_light, lip_red = float(np.median(light[lips][redder])), float(np.median(red[lips][redder]))
    grey = photo_tint(image, points) is not None  # no redness: teeth told from lips by their lightness alone
    if teeth_light - lip_light < TEETH_CONTRAST[0] or (lip_red - teeth_red < TEETH_CONTRAST[1] and not grey):
        return None
    teeth = outline & ((red < lip_red - TEETH_SPLIT * (lip_red - teeth_red)) | grey)
    if in_lip is not None:
        colour = np.hypot(red - 128, lab[..., 2] - 128)  # Lab's chroma: 128 is neutral in OpenCV's 8-bit Lab
        teeth_colour, lip_colour = float(np.median(colour[inner][bright])), float(np.median(colour[lips][redder]))
        if teeth_colour > LIP_TEETH_GREYER * lip_colour:
            return None
        teeth &= colour < lip_colour - TEETH_SPLIT * (lip_colour - teeth_colour)
    if (not teeth_by_red and in_lip is None) or grey:
        teeth &= light > lip_light + TEETH_SPLIT * (teeth_light - lip_light)
    _, labels = cv2.connectedComponents(teeth.astype(np.uint8), connectivity=8)
    touching = np.unique(labels[inner & teeth])
    teeth = np.isin(labels, touching[touching > 0])
    if not teeth.any():
        return None
    teeth = _closed(teeth, TOOTH_GAPS * width) & outline
    if teeth_by_red or in_lip is not None:
        return teeth, (int(low[0]), int(low[1]))
    side = 2 * max(1, round(RIM * width / 2)) + 1
    valleys = cv2.morphologyEx(light, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)))
    contrast = teeth_light - lip_light
    rims = outline & (valleys > RIM_DARK * contrast) & (light < lip_light - RIM_BELOW_LIPS * contrast)
    _, labels = cv2.connectedComponents(rims.astype(np.uint8), connectivity=8)
    near = _grown(teeth, RIM_REACH * width)
    joined = np.unique(labels[near & rims])
    opening = teeth | np.isin(labels, joined[joined > 0])
    return _columns_filled(opening), (int(low[0]), int(low[1]))


def _dark_inside(image: np.ndarray, points: np.ndarray, width: float) -> tuple[np.ndarray, tuple[int, int]] | None:
    """An open mouth's dark inside (DARK_INSIDE) as a boolean mask of a crop around the mouth, looked for where
    `_opening` looks but as far as the outer lips above dlib's lower inner lip (its upper inner lip can lie far down
    a dark opening; below the lower one lies the lower lip, whose dark lipstick joined a smile's dark crease), and the
    crop's first pixel in `image`; None where there is no such inside."""
    frame = FaceFrame.of(points)
    low, crop, inner, outline = _mouth_crop(image, points, width, near_inner=False)
    outline &= ~_below_lower_inner_lip(points, frame, low, crop.shape)
    lips = outline & ~inner
    if np.count_nonzero(inner) < 12 or np.count_nonzero(lips) < 12:
        return None
    light = smoothed_lab(crop, width)[..., 0].astype(np.float32)
    dark = outline & (light < DARK_INSIDE * float(np.median(light[lips])))
    _, labels = cv2.connectedComponents(dark.astype(np.uint8), connectivity=8)
    touching = np.unique(labels[inner & dark])
    dark = _columns_filled(np.isin(labels, touching[touching > 0]))
    columns = np.count_nonzero(dark, axis=0)
    columns = columns[columns > 0]
    span = abs(float((points[INNER_CORNERS[1]] - points[INNER_CORNERS[0]]) @ frame.right))
    if len(columns) < DARK_SPAN * span or np.median(columns) < DARK_THICK * width:
        return None
    return dark, (int(low[0]), int(low[1]))


def _below_lower_inner_lip(
    points: np.ndarray, frame: FaceFrame, corner: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray:
    """A boolean mask of a crop (first pixel at `corner`) of `shape`: the pixels further down the face (`frame`, of
    `points`) than dlib's lower inner lip (its chain between the inner corners, flat past them)."""
    first = points[INNER_CORNERS[0]]
    lower = points[list(MOUTH_SLIT[1])] - first
    along, across = lower @ frame.right, lower @ frame.down
    order = np.argsort(along)
    ys, xs = np.indices(shape[:2], dtype=np.float32)
    at = np.stack([xs + corner[0] - first[0], ys + corner[1] - first[1]], -1)
    return at @ frame.down > np.interp(at @ frame.right, along[order], across[order]) + 1.0


def _mouth_crop(
    image: np.ndarray, points: np.ndarray, width: float, in_lip: list[int] | None = None, near_inner: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where an opening is looked for: the crop's first pixel in `image`, the crop, dlib's inner lips (or `in_lip`'s
    outline) in it and the outline around them (inside the outer lips; with `near_inner`, not far off the inner
    ones)."""
    reach = REACH * width
    low = np.maximum(np.floor(points[OUTER_LIP].min(0) - 2 * reach), 0).astype(int)
    high = np.minimum(np.ceil(points[OUTER_LIP].max(0) + 2 * reach), image.shape[1::-1]).astype(int)
    crop = np.ascontiguousarray(image[low[1] : high[1], low[0] : high[0]])
    local = points - low
    inner = polygon_mask(local[INNER_LIP if in_lip is None else in_lip], crop.shape)
    # dlib's inner lips lie near the opening, if not on it: it is looked for inside the outer ones, not far off these
    outline = polygon_mask(local[OUTER_LIP], crop.shape, grow=round(reach))
    if near_inner:
        outline &= _grown(inner, INNER_REACH * width)
    return low, crop, inner, outline


def _on_edge(points: np.ndarray, opening: np.ndarray, corner: tuple[int, int]) -> np.ndarray:
    """`points` with the inner-lip pairs (INNER_GAPS) at ALONG of the way between dlib's inner corners (across the
    face), on dlib's inner-lip line there or, where `opening` (a crop whose first pixel lies at `corner`) reaches
    further out, on its edge; the outer lips move out as far as the inner ones did.
    Upper and lower of a pair lie on one line down the face, along which the rig closes them: 6 px apart across
    it, lips pressed together left a sliver of the mouth's inside between them."""
    first, last = points[list(INNER_CORNERS)]
    frame = FaceFrame.of(points)
    down = frame.down  # the rig closes a pair along it: upper and lower then meet
    axis = frame.right if (last - first) @ frame.right >= 0 else -frame.right  # from the first corner to the last

    def local(xy: np.ndarray) -> np.ndarray:  # (along, across) from the first inner corner
        return np.stack([(xy - first) @ axis, (xy - first) @ down], -1)

    ys, xs = np.nonzero(opening)
    pixels = local(np.stack([xs, ys], 1).astype(np.float32) + corner)
    span = float((last - first) @ axis)
    along = np.array([0.0, *(fraction * span for fraction in ALONG), span])
    moved = points.copy()
    for chain, outward in zip(MOUTH_SLIT, (-1.0, 1.0), strict=True):
        dlib = local(points[list(chain)])
        across = np.array([_across_at(dlib, at) for at in along])
        across[[0, -1]] = dlib[[0, -1], 1]
        for k in range(1, len(along) - 1):  # out to the opening's edge in the pair's own column
            column = pixels[np.abs(pixels[:, 0] - along[k]) < 1.0, 1]
            if len(column):
                across[k] = outward * max(outward * across[k], float(np.max(outward * column)))
        moved[list(chain[1:-1])] = first + along[1:-1, None] * axis + across[1:-1, None] * down
    for inner_chain, outer, outward in zip(MOUTH_SLIT, OUTER_CHAINS, (-1.0, 1.0), strict=True):
        before, after = local(points[list(inner_chain)]), local(moved[list(inner_chain)])
        for index in outer:
            at = float(local(points[index])[0])
            moved[index] += outward * max(outward * (_across_at(after, at) - _across_at(before, at)), 0.0) * down
    return moved.astype(np.float32)


def _across_at(chain: np.ndarray, at: float) -> float:
    """The across-coordinate of a lip `chain` (along, across: corner to corner) at `at` along it, flat past its ends."""
    order = np.argsort(chain[:, 0])
    return float(np.interp(at, chain[order, 0], chain[order, 1]))


def polygon_mask(polygon: np.ndarray, shape: tuple[int, ...], grow: int = 0) -> np.ndarray:
    """The `polygon` filled (sub-pixel corners), grown by `grow` px, a boolean mask of an image of `shape`."""
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    if grow > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return mask.astype(bool)


def _closed(mask: np.ndarray, size: float) -> np.ndarray:
    side = 2 * max(1, round(size / 2)) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, kernel).astype(bool)


def _grown(mask: np.ndarray, by: float) -> np.ndarray:
    side = 2 * max(1, round(by)) + 1
    return cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))).astype(bool)


def _columns_filled(mask: np.ndarray) -> np.ndarray:
    """`mask` filled down each column from its first to its last pixel there (an opening is one run per column)."""
    rows = np.arange(mask.shape[0])[:, None]
    top = np.where(mask.any(0), np.argmax(mask, 0), mask.shape[0])
    bottom = mask.shape[0] - 1 - np.argmax(mask[::-1], 0)
    return (rows >= top) & (rows <= bottom)
