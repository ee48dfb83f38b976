"""What a closed-mouth photo does not show: the inside of the mouth, as two layers in the photo's coordinates.

The upper layer (RGBA) hangs below the upper inner lip and moves with it: the upper teeth. The lower layer
(RGB) sits above the lower inner lip and moves with the jaw: lower teeth, tongue and the dark cavity behind.
Colours come from the face (lip colour for the cavity and tongue, natural lips' from the skin where the lips are
painted, skin brightness for the teeth) so the inside is lit like the face. When the photo already shows teeth, its
own teeth are used instead of synthetic ones; opened wider than in the photo they end at their own curved edge, over
their shadow (`MouthLayers.opened`).
The warp samples the photo with its own opening grown over from the lips (`lips_over_opening`), so lips closed
from an open photo meet lip to lip; closed lips whose faint meeting line that would erase keep their own mouth while
closed (`fuses_closed_lips`). Over a soft photo (a small face enlarged) the drawn inside is blurred to the
photo's own softness around the lips (`MouthLayers.softness`; the renderer softens the lips' inner edge with it),
and its own teeth reach as far past their opening as the warp's photo has it grown over (OPENING_BLUR).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from models.face.analysis import FaceAnalysis
from models.face.frame import (
    INNER_CORNERS,
    INNER_LIP,
    LOWER_LIP_OUTLINE,
    MOUTH,
    MOUTH_SLIT,
    OUTER_LIP,
    OUTER_UPPER_LIP,
    UPPER_LIP_OUTLINE,
    FaceFrame,
    mouth_opening,
)
from models.face.lips import polygon_mask, teeth_in_pixels
from models.face.tone import LUMA, at_most_as_coloured, photo_tint
from models.render.mesh import spline_matrix
from models.render.softness import photo_softness

TEETH_RGB = np.array([236, 230, 214], np.float32)
# Drawn teeth take the colour of the light on the face: the skin's colour (over its mean) to TEETH_TINT, at most as
# coloured as a typical skin's (the median of 93 sample and held-out photos; its log over R, G and B spreads 0.53).
# A darker skin's pigment is no warmer light: taken for it in full (to 0.5, uncapped), such faces drew orange teeth (a
# held-out face's 237/168/104, where Obama's photographed teeth are 230/229/220 beside a skin as warm). On the 21
# photos that show their own teeth (the brightest third of the opening, brighter than the skin) the drawn teeth's
# colour now lies 0.059 from theirs (the median over the photos of the largest log-ratio over R, G and B; 0.096
# before), Obama's 0.113 (0.240); a photo under blue stage light still gets teeth bluer than the ivory
TYPICAL_SKIN = np.array([1.29, 0.93, 0.76], np.float32)
TYPICAL_SPREAD = float(np.ptp(np.log(TYPICAL_SKIN)))  # its log's spread over R, G and B
TEETH_TINT = 0.3
# Tooth edges across the mouth, as fractions of the half mouth width from the centre (incisors,
# laterals, canines, premolars); the lower incisors are narrower.
UPPER_EDGES = np.array([0.0, 0.30, 0.54, 0.76, 0.95, 1.15])
LOWER_EDGES = np.array([0.0, 0.19, 0.38, 0.58, 0.78, 1.0])
UPPER_TEETH = 0.10  # visible height of the upper teeth below the upper lip, in mouth widths
LOWER_TEETH = 0.07
CAVITY_RGB = np.array([0.55, 0.33, 0.31], np.float32)  # of the lip colour
TONGUE_RGB = np.array([0.95, 0.6, 0.6], np.float32)
THROAT = 0.28  # height of the darkest point of the cavity above the lower lip, in mouth widths
OPENING_MARGIN = 0.015  # mouth widths: dlib's inner-lip line lies this far inside the lips' real edge
# ... and over a small face enlarged (models/render/warp.SMALL_FACE) that shows its teeth, their pale blur reaches this
# many times the photo's softness around the lips (`_softness`) past it: left in what the warp samples, lips pressed
# together kept it as a pale streak between them (a held-out thumbnail's: pressed 0.058 of its mouth width, p/b/m
# 0.165). Grown so over a closed mouth, its meeting line was smeared instead (a small man's pressed 0.017 -> 0.080).
# The photo's own teeth (`MouthLayers.upper`) reach as far past the opening, with the soft edge where they meet the
# lips: the renderer softens the lips' inner edge as much as the photo (models/render/warp.EDGE_SOFTNESS), and
# where that edge reached past the teeth's own 1 px feather, the dark cavity drawn behind them showed through it, a
# crisp dark ring around the teeth of five soft 105 x 79 px faces (with models/render/warp.EMPTY, their identity
# between words, the lips as far apart as the photo's, read 0.12 to 0.18; now 0.09 to 0.13)
OPENING_BLUR = 2.0
# The photo's own teeth run on up under the upper lip this many mouth widths (at most as far as the opening is high
# there), taken from this far under the opening's top edge (below the lip's blur into them), darker by up to this
# share: a rising upper lip uncovers more of them, not the dark inside drawn behind them
TEETH_UNDER_LIP = 0.08
UNDER_LIP_SKIP = 0.015
UNDER_LIP_SHADE = 0.25
UNDER_LIP_SIDEWAYS = 0.02  # mouth widths: the teeth repeated upwards are blurred sideways this much
UNDER_LIP_SIDES = (0.5, 0.9)  # ... as far up between the corners, tapering to none over these half-widths
UNDER_LIP_EDGE = 0.01  # mouth widths: their top edge fades out over this much either side
# ... and what is grown over there meets the photo around it blurred by GROWN_EDGE[1] softnesses, over GROWN_EDGE[0]
# softnesses either side of its edge: the fill, averaged from as far around as the opening was grown, met the photo's
# own shade on the lips beside the teeth in a step, a crisp outline around the mouth in every frame (the mouth's
# fine detail over the photo's: 1.2-2.6 times at rest, between words and opened a little, now 0.9-1.8). The shade
# blurred into the fill also darkens where pressed lips meet less: two of the five faces' p/b/m pressed 0.069 and
# 0.072 apart, now 0.051 and 0.058
GROWN_EDGE = (1.0, 0.5)
# Lower teeth in the cavity's shade are lit by what it bounces: the lips' hue, to this power where lit fully and
# twice it in the deepest shade (a darkened ivory alone reads olive grey next to the red cavity)
BOUNCE = 0.3
# ... and so are drawn upper teeth in a narrow opening's shade (per frame, models/render/warp.py): their colour times
# the lips' hue to SHADE_BOUNCE times the light the opening takes off them. Shaded grey alone, the teeth between parted
# lips (jaw 0.1-0.3, most of speech) read olive on warm faces, blue-grey on pale ones. (A photo's own teeth keep the
# colour it shows: they lose at most warp.OWN_TEETH_LIGHT of their light.)
SHADE_BOUNCE = 1.0
# ... and the hue they bounce spreads at most BOUNCE_SPREAD in its log over R, G and B: the 75th percentile of 93
# sample and held-out photos' inside lips (0.40 to 1.42, median 0.68; Grace Hopper's 0.84). The darkest, most saturated
# lips bounced their full red-orange (1.42: a held-out face's lips, 99/34/24): its lower teeth, and those between
# parted lips, drew orange
BOUNCE_SPREAD = 0.82
# The photo's own teeth in a mouth opened wider than the photo's: they end at their incisal edge (found in the
# photo, a smooth arc), this much of a mouth width greyer towards it, over a shadow they cast on what lies below
INCISAL_SHADE = (0.025, 0.15)  # (mouth widths above the edge where it darkens, by how much at the edge)
OCCLUSION = (0.045, 0.55)  # (mouth widths the teeth's shadow reaches below their edge, its darkness right there)
# mouth widths around the lips (sideways, up and down) where the inside can show: the widest opening (jaw_open 1.2,
# models/render/warp_rig.OPEN_GAP) moves the lower lip about 0.46 down and samples the lower layer as far above
INSIDE_REACH = (0.4, 0.8)
# A smile that shows its teeth ends in a dark commissure that dlib's inner corners (60, 64) miss, below and outside
# it: the opening's corners are moved onto the darkest point this far around them (mouth widths), on the photo
# blurred this much, if it is this much darker than the landmark's own pixel
COMMISSURE_REACH = 0.06
COMMISSURE_BLUR = 0.01
COMMISSURE_DARKER = 0.6
# Over a soft photo (a small face enlarged) the drawn inside is blurred to the photo's own softness around the lips
# (models/render/softness.py), measured this far around them (mouth widths, sideways and up and down)
SOFTNESS_AROUND = (0.25, 0.3)
# px: how soft the drawn inside already is. The same probe read 0.99 to 1.06 px on it (opened mouths of five faces,
# lips' inner edge included); sharp photos read about as soft around the lips (Grace Hopper 1.08 px, two_people 1.04
# at 512) and keep their mouths as they were
DRAWN_SOFTNESS = 1.1
LIP_SHADE = 0.4  # of a lip's median luma: shade on it this dark is painted over with the teeth it touches
# A mouth that dlib fitted inside its wide opening (a shouting child) has its opening re-placed with straight inner-lip
# lines between the pairs (models/face/open_mouth.py): the dark inside's round corners lie beyond them. Closed, the
# lips sampled them at the corners: a dark streak at the pressed lips' corners that dlib read as lips apart (p/b/m
# 0.175 of the child's open vowels). What the warp samples while such lips are closed (models/render/warp.Puppet)
# has the dark joining the opening, darker than CAVITY_SHADE of the lips' luma, grown by CAVITY_GROW mouth widths (its
# soft edge: not grown, a dotted outline was left) grown over too: 0.053. Opened, the photo's corners stay: grown
# over in every frame (and a line drawn where the lips meet), the child's identity read 0.277 (median) where it was
# 0.266; grown over while closed, 0.260
CAVITY_SHADE = 0.7
CAVITY_GROW = 0.02
# dlib's inner lips run through the teeth where this share of them (by redness) lies on the lips beside the opening's
# middle: 0.32-0.33 on a held-out face caught speaking, whose inner upper lip runs down through its shaded upper
# teeth, 0.15 on Grace Hopper opened by the rig; 0.04-0.06 on the astronaut's smile, opened by the rig or not
THROUGH_TEETH = 0.1
# mouth widths: teeth on the lower lip are looked for no further than this from dlib's inner lips: past it, a small
# tilted smile's pale skin beside the corner, inside dlib's outer lower lip, was taken for them (its lip stretched
# over it, a pale block at the pressed corner); that speaking face's lower teeth reach 0.04 past them
LOWER_TEETH_REACH = 0.05
STREAKS = 2.0  # px along the mouth: the lip stretched over teeth is smoothed this much in how far it stretches
# Painted lips do not colour the inside of the mouth. Where the lips are far more saturated than the skin in the
# skin's own light (`painted_lips`: the spread over R, G and B of log(lip / skin)) the cavity, the tongue and the light
# they bounce take the colour of natural lips, this share of the skin's (the median over 35 photos of natural lips),
# fully past the ramp's end. Natural lips read up to 0.53 (warm-lit faces with pale blue-starved lips; a bearded man's
# pale lips 0.46), lipstick 0.63 (a light pink, kept: its inside is a plausible deep pink-red; half painted over, its
# identity read 0.294 to 0.298), 1.21 (red), 1.57 (purple), 1.79 (red-orange): painted so, a held-out face's tongue
# was bright orange, another's inside magenta. A grey photo reads 0. Under a light that turns the skin bluer than red
# the skin is no guide to natural lips: the lips' own colour is kept (a held-out face under blue stage light, 0.83:
# its inside went a cold grey-lilac, identity 0.349 to 0.353 at its widest)
NATURAL_LIPS = np.array([0.82, 0.68, 0.72], np.float32)
PAINTED = (0.65, 0.9)
# Closed lips show a darker line where they meet. dlib reads a faint one as a small opening, and grown over like one
# (`lips_over_opening`) it was gone: closed and pressed, the lips were one pink mass that dlib read as parted (a
# held-out face with evenly lit lips: 0.023 of its mouth width in the photo, 0.043 at rest; p/b/m over open vowels
# 0.191). Where the photo's lips are closed (dlib's gap at most MEETING_GAP mouth widths) and grown over the line would
# be no darker than MEETING_LINE[0] of the lips' light, at least MEETING_LINE[1] lighter than in the photo
# (`fuses_closed_lips`), the warp samples the photo's own mouth while the lips are closed (models/render/warp.py;
# that face: 0.109). Of the 54 gallery and held-out faces only that one passes (0.82 -> 0.93); of the closed others
# the lightest grown over read 0.82 and 0.81 (the latter, kept at 0.7, stayed at p/b/m 0.188 and closed at 0.85 of
# its p/b/m, not 0.95)
MEETING_LINE = (0.88, 0.05)
MEETING_GAP = 0.035
MEETING_SPAN = (0.15, 0.85)  # of the mouth, corner to corner, where the line is looked at
MEETING_REACH = 0.03  # mouth widths either side of the line midway between dlib's inner lips
# Over a small face enlarged the upper lip's lower edge is blurred into the teeth below it, and dlib's upper inner lip
# lies midway down that blur: the lip above it stays paler than the lip for a few pixels. Kept in what the warp
# samples, lips pressed together showed it as a pale band between their reds, read as a gap (a held-out leaning
# child's toothy smile: pressed 0.094, p/b/m 0.287, closed on 0.05 of them; grown over with the opening: 0.054,
# 0.216, 1.0). Where the photo shows teeth and that pale run (`_pale_runs`) is this long on average (mouth widths)
# between landmarks 61 and 63 it is grown over: that child 0.050; the next of the 80 faces showing teeth 0.031
# (Einstein); two closed mouths without teeth read 0.076 and 0.051 (pale there is no blur into teeth, and kept)
PALE_EDGE = 0.04


@dataclass
class MouthLayers:
    upper: np.ndarray  # (h, w, 4) float32 RGBA, RGB in 0..255
    lower: np.ndarray  # (h, w, 3) float32
    corner: np.ndarray  # (2,) float32 x, y in the photo of the layers' first pixel: (0, 0) for the whole photo
    own_teeth: bool = False  # the upper layer holds the photo's own teeth (and the shade of its opening)
    # the upper layer for a mouth opened past the photo's own opening: its teeth alone, ending at their own curved
    # edge and shading the cavity under them (the photo's opening below their edge is its lower lip's inside)
    opened: np.ndarray | None = None
    softness: float = 0.0  # px: the drawn inside is blurred by this much, as soft as the photo around the lips
    # (3,) float32: the log of the lips' hue (lip_hue), 0 in a grey photo; what the mouth's shade bounces onto teeth
    bounce: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))


def on_commissures(image: np.ndarray, points: np.ndarray, frame: FaceFrame, teeth_visible: bool) -> np.ndarray:
    """`points` with the inner mouth corners moved onto the photo's dark commissures, for a photo showing its
    teeth (elsewhere `points` as they are). Left at the landmark, the commissure lay on the upper lip beside the
    opening's corner: an opening jaw moved the corner away from it, a dark dot above the opening's end."""
    if not teeth_visible:
        return points
    width = frame.mouth_width
    reach = int(np.ceil(COMMISSURE_REACH * width))
    blur = COMMISSURE_BLUR * width
    # the photo around the two corners alone, with room for the blur
    low = np.maximum(np.floor(points[list(INNER_CORNERS)].min(0)).astype(int) - reach - int(np.ceil(4 * blur)), 0)
    high = np.ceil(points[list(INNER_CORNERS)].max(0)).astype(int) + reach + int(np.ceil(4 * blur)) + 1
    luma = cv2.GaussianBlur(image[low[1] : high[1], low[0] : high[0]].astype(np.float32) @ LUMA, (0, 0), blur)
    moved = points.copy()
    for corner in INNER_CORNERS:
        x, y = np.clip(np.round(points[corner]).astype(int) - low, 0, np.array(luma.shape[::-1]) - 1)
        rows, cols = slice(max(y - reach, 0), y + reach + 1), slice(max(x - reach, 0), x + reach + 1)
        around = luma[rows, cols]
        row, col = np.unravel_index(np.argmin(around), around.shape)
        if around[row, col] < COMMISSURE_DARKER * luma[y, x]:
            moved[corner] = low + (cols.start + col, rows.start + row)
    return moved


def painted_lips(lip_rgb: np.ndarray, skin_rgb: np.ndarray) -> float:
    """How much more saturated the lips are than the skin, in the skin's own light: the spread over the channels of
    log(lip / skin) (0 for a grey photo; natural lips up to about 0.53, lipstick above: PAINTED)."""
    lip, skin = (np.maximum(np.asarray(rgb, np.float32), 1.0) for rgb in (lip_rgb, skin_rgb))
    return float(np.ptp(np.log(lip / skin)))


def inside_lip_rgb(lip_rgb: np.ndarray, skin_rgb: np.ndarray) -> np.ndarray:
    """The lip colour the inside of the mouth is painted from (float32): the lips' own, or where they are painted
    (`painted_lips` past PAINTED[0]) that of natural lips under the skin's light (NATURAL_LIPS), fully past PAINTED[1];
    the lips' own under a light that turns the skin bluer than red."""
    lip = lip_rgb.astype(np.float32)
    if int(skin_rgb[2]) > int(skin_rgb[0]):
        return lip
    weight = float(_smoothstep(np.float32(painted_lips(lip_rgb, skin_rgb)), *PAINTED))
    if weight <= 0:
        return lip
    return lip + weight * (skin_rgb.astype(np.float32) * NATURAL_LIPS - lip)


def inside_box(points: np.ndarray, frame: FaceFrame, size: int) -> tuple[slice, slice]:
    """The part of a `size` photo where the inside of the mouth can show, whatever the mouth controls."""
    reach = np.array(INSIDE_REACH) * frame.mouth_width
    x0, y0 = np.floor(points[MOUTH].min(0) - reach).astype(int).clip(0, size)
    x1, y1 = np.ceil(points[MOUTH].max(0) + reach).astype(int).clip(0, size)
    return slice(int(y0), int(y1)), slice(int(x0), int(x1))


def build_mouth(
    face: FaceAnalysis,
    box: tuple[slice, slice] | None = None,
    *,
    teeth_reach: float = 0.0,
    small: bool = False,
) -> MouthLayers:
    """The layers of `face`'s mouth over the whole photo, or only over `box` of it (`inside_box`): the same values
    there. The photo's own teeth, where it shows them: on a `small` face (enlarged) they reach OPENING_BLUR
    softnesses past their opening; they run on up under the upper lip (`_teeth_under_lip`) and are cut at their
    edge for a wider opening (`opened`), neither on a turned face (the edge found between its rough lip landmarks is
    not its teeth'); on a video's frame (`teeth_reach` > 0) they reach that many mouth widths under its lips all
    round instead of being cut: a mouth opened wider than the frame's shows the frame's own mouth edge there, not a
    dark rim of the synthetic cavity."""
    image, points, frame = face.image, face.landmarks, face.frame
    lip_rgb, skin_rgb, teeth_visible = face.lip_rgb, face.skin_rgb, face.teeth_visible
    cut_teeth = not teeth_reach and not face.mouth_turned
    under_lip = not face.mouth_turned
    size = image.shape[0]
    box = box or (slice(0, size), slice(0, size))
    upper_chain, lower_chain = (points[list(chain)] for chain in MOUTH_SLIT)
    width = frame.mouth_width
    centre_x = float(points[list(INNER_CORNERS)].mean(0)[0])
    ys, xs = np.mgrid[box].astype(np.float32)
    along = (xs - centre_x) / (width / 2)  # -1 .. 1 between the mouth corners
    y_upper = _curve(upper_chain, xs)
    y_lower = _curve(lower_chain, xs)

    light = float(np.mean(skin_rgb)) / 190.0
    # Teeth take the colour of the light on the face (a warm-lit photo has warm teeth) and sit in the mouth's shade.
    skin = np.log(np.maximum(skin_rgb.astype(np.float32) / max(float(np.mean(skin_rgb)), 1.0), 1e-3))
    tint = np.exp(TEETH_TINT * at_most_as_coloured(skin, TYPICAL_SPREAD))
    teeth_rgb = np.clip(TEETH_RGB * tint * (0.7 + 0.2 * min(light, 1.0)), 0, 255)
    opening = _opening(image, points) if teeth_visible else None
    softness = _softness(image, points, width)
    if opening is not None:  # the lower teeth match the photo's own upper ones
        teeth_rgb = _photo_teeth_rgb(image, opening, teeth_rgb)
    side_shade = np.clip(1 - 0.55 * along**2, 0.2, 1)  # teeth and cavity recede into shadow at the sides
    lip = inside_lip_rgb(lip_rgb, skin_rgb)

    below_upper = (ys - y_upper) / (UPPER_TEETH * width)  # 0 at the upper inner lip, 1 at the teeth's edge
    upper_alpha = _band(below_upper, along, UPPER_EDGES, 1.0)
    # in the upper lip's shadow where they leave it, brighter towards the biting edge, which catches the light
    upper_rgb = _teeth(
        teeth_rgb, along, UPPER_EDGES, below_upper, side_shade * (0.82 + 0.18 * _smoothstep(below_upper, 0, 0.4))
    )

    above_lower = (y_lower - ys) / width  # 0 at the lower inner lip, growing upwards
    throat = np.exp(-((along / 0.55) ** 2 + ((above_lower - THROAT) / 0.2) ** 2))
    # The cavity's walls near the lips catch some light; the throat behind is dark.
    cavity = lip * CAVITY_RGB * (side_shade * (1 - 0.6 * throat))[..., None]
    # The tongue lies low behind the lower teeth, a dome lit from the front: brightest at its tip, turning
    # into shadow towards its back and sides, red like the lips.
    reach = (along / 0.62) ** 2 + ((above_lower - 0.04) / 0.19) ** 2
    tongue = _smoothstep(1 - reach, 0, 0.6)
    tip = np.clip(1 - above_lower / 0.23, 0, 1)
    tongue_rgb = lip * TONGUE_RGB * (side_shade * (0.5 + 0.5 * tip) * (1 - 0.25 * np.clip(reach, 0, 1)))[..., None]
    lower_rgb = cavity + tongue[..., None] * (tongue_rgb - cavity)
    lower_depth = above_lower / LOWER_TEETH
    lower_alpha = _band(lower_depth, along, LOWER_EDGES, 0.62)
    # lower teeth sit in the shadow of the upper ones: darker, lit at their top edge
    lower_shade = side_shade * (0.72 + 0.2 * np.clip(lower_depth, 0, 1))
    # the deeper in the shade, the more of the light comes off the cavity's red walls
    hue = lip_hue(lip)
    bounce = hue ** (BOUNCE * (2 - lower_shade))[..., None]
    bounce /= (bounce @ LUMA)[..., None]
    lower_teeth = _teeth(teeth_rgb * bounce, along, LOWER_EDGES, lower_depth, lower_shade, gap_rgb=lip * CAVITY_RGB)
    lower_rgb += lower_alpha[..., None] * (lower_teeth - lower_rgb)
    opened = None
    if opening is not None:  # the photo's own teeth stay with the skull; synthetic ones only where the jaw uncovers
        upper_alpha = _own_teeth(opening, OPENING_BLUR * softness if small else 0.0)[box]
        upper_rgb = image[box].astype(np.float32)
        if under_lip:
            upper_rgb, upper_alpha = _teeth_under_lip(
                upper_rgb, upper_alpha, opening[box], centre_x - box[1].start, width, softness
            )
        edge = _incisal_edge(image, opening, points, xs, y_upper, y_lower, width) if cut_teeth else None
        if edge is not None:
            opened = _teeth_over_shadow(upper_rgb, upper_alpha, ys - edge, along, width)
    tint = photo_tint(image, points)
    if tint is not None:  # no cream teeth or red tongue in a black-and-white or toned photo: its own tint
        upper_rgb, lower_rgb = (_toned(rgb, tint) for rgb in (upper_rgb, lower_rgb))
        if opened is not None:
            opened[..., :3] = _toned(opened[..., :3], tint)
    upper = np.dstack([upper_rgb, upper_alpha]).astype(np.float32)
    lower_rgb = lower_rgb.astype(np.float32)
    if softness:  # as soft as the photo: the drawn teeth, tongue and cavity, the cut of the photo's own teeth
        lower_rgb = cv2.GaussianBlur(lower_rgb, (0, 0), softness)
        upper = upper if opening is not None else _blurred(upper, softness)  # the photo's own teeth are as they are
        opened = None if opened is None else _blurred(opened, softness)
    if teeth_reach and teeth_visible:
        reach = 2 * max(1, round(teeth_reach * width)) + 1
        upper[..., 3] = cv2.dilate(upper[..., 3], cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach)))
    corner = np.array([box[1].start, box[0].start], np.float32)
    return MouthLayers(
        upper=upper,
        lower=lower_rgb,
        corner=corner,
        own_teeth=teeth_visible,
        opened=opened,
        softness=softness,
        bounce=np.log(hue),
    )


def lip_hue(lip: np.ndarray) -> np.ndarray:
    """The colour the mouth's shade bounces onto teeth: the lips' colour `lip` (3,) over its luma, (1, 1, 1) in a grey
    photo, redder than it on a face; its log spread over R, G and B at most BOUNCE_SPREAD."""
    hue = np.log(np.maximum(lip / max(float(lip @ LUMA), 1.0), 1e-3))
    return np.exp(at_most_as_coloured(hue, BOUNCE_SPREAD))


def _blurred(rgba: np.ndarray, sigma: float) -> np.ndarray:
    """The RGBA layer blurred by `sigma` px, its colour weighted by its alpha (no colour bleeds in from where it
    does not cover)."""
    weighted = rgba.copy()
    weighted[..., :3] *= rgba[..., 3:]
    blurred = cv2.GaussianBlur(weighted, (0, 0), sigma)
    blurred[..., :3] /= np.maximum(blurred[..., 3:], 1e-3)
    return blurred


def _softness(image: np.ndarray, points: np.ndarray, width: float) -> float:
    """How much the drawn inside must be blurred (Gaussian sigma, px) to be as soft as the photo around the lips
    (`width`: the mouth's): drawn crisp over a small face enlarged, its teeth read as pasted on."""
    reach = np.array(SOFTNESS_AROUND) * width
    x0, y0 = np.maximum(np.floor(points[MOUTH].min(0) - reach), 0).astype(int)
    x1, y1 = np.ceil(points[MOUTH].max(0) + reach).astype(int)
    return photo_softness(image[y0:y1, x0:x1].astype(np.float32) @ LUMA, DRAWN_SOFTNESS)


def _incisal_edge(
    image: np.ndarray,
    opening: np.ndarray,
    points: np.ndarray,
    xs: np.ndarray,
    y_upper: np.ndarray,
    y_lower: np.ndarray,
    width: float,
) -> np.ndarray | None:
    """Per pixel of `xs`, the y where the photo's own upper teeth end: a parabola (the smile's arc) through the
    steepest fall of brightness down each column of the middle of its mouth `opening` (_opening), never below the
    lower inner lip (`y_lower`) nor above the upper (`y_upper`); None where the opening shows no such edge."""
    rows_in, cols_in = np.nonzero(opening)
    if len(rows_in) < 12:
        return None
    y0, y1, x0, x1 = rows_in.min(), rows_in.max() + 1, cols_in.min(), cols_in.max() + 1
    luma = image[y0:y1, x0:x1].astype(np.float32) @ LUMA
    inside = opening[y0:y1, x0:x1]
    luma = cv2.GaussianBlur(luma, (0, 0), max(1.0, 0.006 * width))
    fall = -np.diff(luma, axis=0)  # brightness lost downwards, inside the opening and below its brightest (teeth)
    fall *= inside[1:] * inside[:-1] * (np.arange(1, y1 - y0)[:, None] > np.argmax(luma * inside, axis=0))
    centre_x = float(points[list(INNER_CORNERS)].mean(0)[0])
    cols = np.arange(x0, x1)
    middle = np.abs(cols - centre_x) < 0.35 * width  # the front teeth: lit, their edge clear
    rows = np.argmax(fall, axis=0)
    strength = fall[rows, np.arange(len(cols))]
    use = middle & (strength > 2.0)
    if use.sum() < 8:
        return None
    u = (cols[use] - centre_x) / width
    arc = np.polyfit(u, y0 + rows[use] + 1.0, 2, w=np.sqrt(strength[use]))
    arc[0] = min(arc[0], 0.0)  # a smile's arc bends up to the sides (y down), never down
    edge = np.polyval(arc, (xs - centre_x) / width).astype(np.float32)
    return np.clip(edge, y_upper, y_lower)


def _teeth_over_shadow(
    rgb: np.ndarray, alpha: np.ndarray, below: np.ndarray, along: np.ndarray, width: float
) -> np.ndarray:
    """RGBA: the photo's teeth (`rgb`, `alpha` over its opening) cut softly at their edge (`below` it: px under
    it, negative above), greyer towards it, over their shadow on the cavity below it (black, fading with depth)."""
    soft = max(1.0, 0.005 * width)
    teeth = alpha * _smoothstep(-below, -soft, soft)
    lit = 1 - INCISAL_SHADE[1] * _smoothstep(below, -INCISAL_SHADE[0] * width, 0)
    reach, dark = OCCLUSION
    sides = _smoothstep(1.1 - np.abs(along), 0, 0.5)
    shadow = dark * sides * np.exp(-np.maximum(below, 0) / (reach * width)) * _smoothstep(below, -soft, soft)
    coverage = 1 - (1 - teeth) * (1 - shadow)
    shown = (teeth / np.maximum(coverage, 1e-6) * lit)[..., None] * rgb
    return np.dstack([shown, coverage]).astype(np.float32)


def _toned(rgb: np.ndarray, tint: np.ndarray) -> np.ndarray:
    """`rgb` in a black-and-white or toned photo's colours: its luma times the photo's `tint` (tone.photo_tint)."""
    return (rgb @ LUMA)[..., None] * tint


def _curve(chain: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The y of a lip chain at every x (a smooth curve through it), flat beyond its ends."""
    order = np.argsort(chain[:, 0])
    curve = spline_matrix(chain[order]) @ chain[order]
    return np.interp(xs, curve[:, 0], curve[:, 1]).astype(np.float32)


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0, 1)
    return t * t * (3 - 2 * t)


def _tooth_position(along: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: distance to the nearest gap between teeth, and -1 .. 1 across its own tooth."""
    a = np.abs(along)
    gap = np.min(np.abs(a[..., None] - edges), axis=-1)
    i = np.clip(np.searchsorted(edges, a) - 1, 0, len(edges) - 2)
    across = 2 * (a - edges[i]) / (edges[i + 1] - edges[i]) - 1
    return gap, across


def _teeth(
    rgb: np.ndarray,
    along: np.ndarray,
    edges: np.ndarray,
    depth: np.ndarray,
    shade: np.ndarray,
    gap_rgb: np.ndarray | None = None,
) -> np.ndarray:
    """A row of teeth, `depth` 0 at the gum and 1 at the free edge: each tooth rounded (lit in its middle),
    ivory at the gum, the gaps between them soft and clearest towards the free edge, showing `gap_rgb` (what
    lies behind them, lit as they are) or, without it, a darker shade of the teeth."""
    gap, across = _tooth_position(along, edges)
    rounded = 0.88 + 0.12 * (1 - np.clip(across, -1, 1) ** 2)
    gaps = ((0.08 + 0.14 * np.clip(depth, 0, 1)) * np.exp(-((gap / 0.035) ** 2)))[..., None]
    ivory = 1 - 0.08 * np.clip(1 - 2 * depth, 0, 1)[..., None] * np.array([0.0, 0.4, 1.0], np.float32)
    teeth = rgb * ivory * (shade * rounded)[..., None]
    behind = np.zeros_like(rgb) if gap_rgb is None else gap_rgb * shade[..., None]
    return teeth + gaps * (behind - teeth)


def _band(depth: np.ndarray, along: np.ndarray, edges: np.ndarray, reach: float) -> np.ndarray:
    """Alpha of a teeth row: from just behind the lip to a free edge that curves back towards the corners,
    each tooth's corners rounded; the row fades out at its ends instead of stopping flat."""
    _, across = _tooth_position(along, edges)
    edge = (1 - 0.35 * along**2) * (1 - 0.12 * np.clip(across, -1, 1) ** 4)
    inside = (depth > -0.3) & (depth < edge)
    ends = _smoothstep(reach - np.abs(along), 0, 0.25 * reach)
    return cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 0.8) * ends


def _photo_teeth_rgb(image: np.ndarray, opening: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """The mean colour of the brightest third of the photo's mouth `opening` (its teeth), or `fallback`."""
    pixels = image[opening > 0].astype(np.float32)
    if len(pixels) < 12:
        return fallback
    luma = pixels @ LUMA
    return pixels[luma >= np.percentile(luma, 67)].mean(0)


def _own_teeth(opening: np.ndarray, reach: float) -> np.ndarray:
    """Alpha of the photo's own mouth inside (its teeth, the `opening`), grown by `reach` px, feathered."""
    side = 2 * round(reach) + 1
    grown = cv2.dilate(opening, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)))
    return cv2.GaussianBlur(grown.astype(np.float32), (0, 0), 1.0)


def _teeth_under_lip(
    rgb: np.ndarray, alpha: np.ndarray, opening: np.ndarray, centre_x: float, width: float, softness: float
) -> tuple[np.ndarray, np.ndarray]:
    """The photo's own teeth (`rgb` where `alpha`, over its `opening`) run on up under the upper lip, where it
    hides them: each column's teeth from UNDER_LIP_SKIP mouth widths (and the photo's `softness`) below the
    opening's top repeated upwards, as far as TEETH_UNDER_LIP mouth widths or the column's opening is high, in the
    lip's shade."""
    rows = np.arange(opening.shape[0])[:, None]
    inside = opening > 0
    shown = inside.any(0)
    top = np.where(shown, inside.argmax(0), 0)
    bottom = np.where(shown, opening.shape[0] - 1 - inside[::-1].argmax(0), 0)
    skip = round(UNDER_LIP_SKIP * width + softness)
    high = _sideways((bottom - top).astype(np.float32), UNDER_LIP_SIDEWAYS * width)  # no px steps
    # tapering towards the corners (where the teeth recede into the dark), at most as far as the opening is high
    along = np.abs(np.arange(opening.shape[1]) - centre_x) / (width / 2)
    inner, outer = UNDER_LIP_SIDES
    taper = TEETH_UNDER_LIP * width * _smoothstep(outer - along, 0, outer - inner)
    reach = np.minimum(taper, high - 2 * skip)  # none where the opening is too thin to hold teeth under the blur
    source = np.minimum(top + skip, bottom)
    above = (top - rows).astype(np.float32)  # px above the opening's top
    # and the lip's blur into them below it, which a lip risen off it left as a dark line across the teeth
    soft = max(1.0, UNDER_LIP_EDGE * width)
    under = shown & (rows < source) & (above < reach + soft)
    rgb, alpha = rgb.copy(), alpha.copy()
    # the teeth along the source row, softened sideways: repeated upwards, a step in it (a tooth's edge, the
    # dark corner) would run up as a hard line
    row = _sideways(rgb[source, np.arange(opening.shape[1])], UNDER_LIP_SIDEWAYS * width)
    ys, xs = np.nonzero(under)
    lifted = above[ys, xs]
    shade = 1 - UNDER_LIP_SHADE * np.clip(lifted / max(TEETH_UNDER_LIP * width, 1.0), 0, 1)
    rgb[ys, xs] = row[xs] * shade[:, None]
    coverage = _smoothstep(reach[xs] - lifted, -soft, soft)  # their top edge soft: the lip uncovers it
    alpha[ys, xs] = np.maximum(alpha[ys, xs], coverage * alpha[source[xs], xs])
    return rgb, alpha


def _sideways(values: np.ndarray, sigma: float) -> np.ndarray:
    """Per-column `values` ((w,) or (w, c)) blurred along the row by `sigma` px."""
    return cv2.GaussianBlur(values[None], (0, 0), sigmaX=sigma, sigmaY=0.1)[0]


def _opening(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """1 inside the photo's mouth opening (its inner lip line), 0 elsewhere."""
    return polygon_mask(points[INNER_LIP], image.shape).astype(np.uint8)


def lips_over_opening(
    image: np.ndarray, points: np.ndarray, frame: FaceFrame, cavity_corners: bool = False, blurred: bool = False
) -> np.ndarray:
    """The photo with its mouth's opening (and a hair around it) grown over from the lips: what the warp
    samples, so lips closed from an open photo meet lip to lip, without specks of the photo's teeth or its
    dark corners between them. What shows through an opening comes from the mouth layers, not from here. With
    `cavity_corners`, the dark inside's round corners beyond the opening's straight edges are grown over too
    (`_cavity_corners`). With `blurred` (a small face enlarged), the blur of teeth it shows is grown over too
    (OPENING_BLUR)."""
    if mouth_opening(points) < 0.5:
        return image
    margin, softness = OPENING_MARGIN * frame.mouth_width, 0.0
    if blurred and teeth_in_pixels(image, points) is not None:
        softness = _softness(image, points, frame.mouth_width)
        margin = max(margin, OPENING_BLUR * softness)
    image, painted = _lip_over_corner_teeth(image, points, frame)
    grow = max(1, round(margin))
    mask = polygon_mask(points[INNER_LIP], image.shape, grow).astype(np.uint8)
    mask |= _pale_upper_edge(image, points, frame)
    if painted:
        mask |= _dark_corners(image, points, frame, mask.astype(bool))
    if cavity_corners:
        mask |= _cavity_corners(image, points, frame, mask.astype(bool))
    grown = cv2.inpaint(np.ascontiguousarray(image), mask, 2 * grow + 1, cv2.INPAINT_TELEA)
    return _soft_edged(grown, mask, softness) if softness else grown


def _soft_edged(image: np.ndarray, mask: np.ndarray, softness: float) -> np.ndarray:
    """`image` blurred across the edge of the `mask` (uint8) grown over in it, as GROWN_EDGE says for a photo of
    this `softness` (px): fully on the edge, less and less away from it."""
    edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    away = cv2.distanceTransform(1 - edge, cv2.DIST_L2, 5)
    weight = np.clip(1 - away / (GROWN_EDGE[0] * softness), 0, 1)[..., None]
    blurred = cv2.GaussianBlur(image.astype(np.float32), (0, 0), GROWN_EDGE[1] * softness)
    return np.round(image + weight * (blurred - image)).astype(image.dtype)


def _pale_upper_edge(image: np.ndarray, points: np.ndarray, frame: FaceFrame) -> np.ndarray:
    """A uint8 mask: in each column between the inner corners, the run of upper lip right above dlib's inner lip
    paler than halfway from the lip's darkest pixel there (down from its outer edge) to the inner lip's own, where
    those runs reach PALE_EDGE mouth widths on average between landmarks 61 and 63 and the photo shows teeth; else
    empty."""
    mask = np.zeros(image.shape[:2], np.uint8)
    runs = _pale_runs(image.astype(np.float32) @ LUMA, points)
    x0, x1 = sorted(float(points[i, 0]) for i in (61, 63))  # where dlib's gaps are read (INNER_GAPS)
    middle = [run for x, _, run in runs if x0 <= x <= x1]
    if not middle or np.mean(middle) < PALE_EDGE * frame.mouth_width:
        return mask
    if teeth_in_pixels(image, points) is None:
        return mask
    for x, bottom, run in runs:
        mask[bottom - run : bottom + 1, x] = 1
    return mask


def _pale_runs(luma: np.ndarray, points: np.ndarray) -> list[tuple[int, int, int]]:
    """(column, row of dlib's upper inner lip, how many rows above it the lip is paler than halfway from its
    darkest pixel down from its outer edge to that row's) for each column between the inner corners."""
    h, w = luma.shape
    x0, x1 = sorted(float(points[corner, 0]) for corner in INNER_CORNERS)
    xs = np.arange(max(int(np.ceil(x0)), 0), min(int(np.floor(x1)), w - 1) + 1)
    inner, outer = (_curve(points[list(chain)], xs) for chain in (MOUTH_SLIT[0], OUTER_UPPER_LIP))
    runs = []
    for x, y_in, y_out in zip(xs, inner, outer, strict=True):
        top, bottom = max(int(round(y_out)), 0), min(int(round(y_in)), h - 1)
        column = luma[top : bottom + 1, x]
        if len(column) > 1:
            runs.append((int(x), bottom, int(np.argmax(column[::-1] <= (column.min() + column[-1]) / 2))))
    return runs


def fuses_closed_lips(image: np.ndarray, grown: np.ndarray, points: np.ndarray, frame: FaceFrame) -> bool:
    """Whether the photo's lips are closed (dlib's inner lips within MEETING_GAP) and `grown`, the photo with its
    opening grown over (`lips_over_opening`), loses the line where they meet: lighter than MEETING_LINE[0] of the
    lips' light there, at least MEETING_LINE[1] lighter than in the photo (`_meeting_line`)."""
    if grown is image or mouth_opening(points) > MEETING_GAP * frame.mouth_width:
        return False
    line, line_grown = (_meeting_line(im, points, frame) for im in (image, grown))
    return line_grown >= MEETING_LINE[0] and line_grown - line >= MEETING_LINE[1]


def _meeting_line(image: np.ndarray, points: np.ndarray, frame: FaceFrame) -> float:
    """How dark the line between the inner lips is, a share of the lips' median luma: in each column of the middle
    of the mouth (MEETING_SPAN of it) the darkest luma within MEETING_REACH mouth widths of the line midway between
    dlib's inner lips, averaged."""
    luma = image.astype(np.float32) @ LUMA
    lips = polygon_mask(points[OUTER_LIP], image.shape)
    if not lips.any():
        return 0.0
    chains = [points[list(chain)] for chain in MOUTH_SLIT]
    middle = (chains[0] + chains[1]) / 2
    along = (middle - middle[0]) @ frame.right
    along *= np.sign(along[-1]) if along[-1] else 1.0  # from corner 60 on, whichever way `right` runs
    span = along[-1] * np.array(MEETING_SPAN)
    steps = np.arange(span[0], span[1], 1.0)
    if not len(steps):
        return 0.0
    xs = np.interp(steps, along, middle[:, 0])
    ys = np.interp(steps, along, middle[:, 1])
    reach = max(2, round(MEETING_REACH * frame.mouth_width))
    h, w = luma.shape
    darkest = [
        luma[max(int(round(y)) - reach, 0) : min(int(round(y)) + reach + 1, h), min(max(int(round(x)), 0), w - 1)].min()
        for x, y in zip(xs, ys, strict=True)
    ]
    return float(np.mean(darkest) / max(float(np.median(luma[lips])), 1.0))


def _lip_over_corner_teeth(image: np.ndarray, points: np.ndarray, frame: FaceFrame) -> tuple[np.ndarray, bool]:
    """`image` with its teeth towards the corners (`_teeth_at_corners`) painted over, and whether dlib's inner lips
    run through the teeth (THROUGH_TEETH). Grown over from around them, they took the light skin beyond the corner:
    a pale patch on the pressed upper lip, read as still parted (0.07). A few of them beside the upper inner lip
    (a smile's) are painted in the upper lip's colour beside them; where dlib's inner lips run through them, they
    and the dark shade they touch are painted over with the lip they lie on, stretched over them from its outer
    edge in each column. Painted in the lip's colour there, a speaking face's shaded upper teeth were a flat brown
    band under its pressed upper lip; left on the lower lip, its lower teeth were a white speck at a pressed corner."""
    found = teeth_in_pixels(image, points)
    if found is None:
        return image, False
    upper, lower = (polygon_mask(points[outline], image.shape) for outline in (UPPER_LIP_OUTLINE, LOWER_LIP_OUTLINE))
    on_upper = _teeth_at_corners(found & upper, points, frame, (61, 63))
    on_lower = _teeth_at_corners(found & lower & _near_opening(points, frame, image.shape[:2]), points, frame, (67, 65))
    if np.count_nonzero(on_upper | on_lower) < THROUGH_TEETH * np.count_nonzero(found):
        return _lip_colour_over(image, on_upper, upper & ~on_upper, points, frame), False
    for lip, teeth, flip in ((upper, on_upper, slice(None)), (lower, on_lower, slice(None, None, -1))):
        if teeth.any():
            teeth = teeth | _shade_on(image, lip, teeth)
            image = np.ascontiguousarray(_lip_stretched_over(image[flip], teeth[flip], (lip & ~teeth)[flip])[flip])
    return image, True


def _near_opening(points: np.ndarray, frame: FaceFrame, shape: tuple[int, ...]) -> np.ndarray:
    """What lies within LOWER_TEETH_REACH of dlib's inner-lip polygon, a boolean mask of an image of `shape`."""
    return polygon_mask(points[INNER_LIP], shape, max(1, round(LOWER_TEETH_REACH * frame.mouth_width)))


def _lip_colour_over(
    image: np.ndarray, teeth: np.ndarray, lip: np.ndarray, points: np.ndarray, frame: FaceFrame
) -> np.ndarray:
    """`image` with its `teeth` painted in the median colour of the `lip` beside them, each corner its own."""
    if not teeth.any():
        return image
    painted = image.astype(np.float32)
    middle = (points[INNER_CORNERS[0]] + points[INNER_CORNERS[1]]) / 2
    xs = np.arange(image.shape[1])
    for side in (-1, 1):  # each corner its own lip colour: one side of a lip can lie in shade
        beside = np.sign((xs - middle[0]) * frame.right[0]) == side
        colour = np.median(image[lip & beside[None, :]], axis=0) if (lip & beside[None, :]).any() else None
        if colour is not None:
            painted[teeth & beside[None, :]] = colour
    return _blended_in(image, painted, teeth)


def _dark_corners(image: np.ndarray, points: np.ndarray, frame: FaceFrame, opening: np.ndarray) -> np.ndarray:
    """The dark commissures joining the `opening` (a boolean mask) out to COMMISSURE_REACH past dlib's outer lips,
    much darker than the lips (LIP_SHADE), a uint8 mask: left in what the warp samples, where dlib's outer corner
    lies inside the commissure (a held-out speaking face), a dark wedge beside lips pressed together."""
    return _dark_commissures(image, points, frame, opening, LIP_SHADE)


def _dark_commissures(
    image: np.ndarray, points: np.ndarray, frame: FaceFrame, opening: np.ndarray, shade: float
) -> np.ndarray:
    """What joins the `opening` (a boolean mask) out to COMMISSURE_REACH past dlib's outer lips, darker than
    `shade` of the lips' median luma: a uint8 mask."""
    mouth = polygon_mask(points[OUTER_LIP], image.shape)
    reach = 2 * max(1, round(COMMISSURE_REACH * frame.mouth_width)) + 1
    around = cv2.dilate(mouth.astype(np.uint8), np.ones((reach, reach), np.uint8)).astype(bool)
    return _dark_touching(image, around, mouth & ~opening, opening, shade).astype(np.uint8)


def _cavity_corners(image: np.ndarray, points: np.ndarray, frame: FaceFrame, opening: np.ndarray) -> np.ndarray:
    """The dark inside joining the `opening` (a boolean mask) beyond it, darker than CAVITY_SHADE of the lips
    (`_dark_commissures`), grown by CAVITY_GROW mouth widths past its soft edge: a uint8 mask."""
    dark = _dark_commissures(image, points, frame, opening, CAVITY_SHADE)
    grow = 2 * max(1, round(CAVITY_GROW * frame.mouth_width)) + 1
    return cv2.dilate(dark, np.ones((grow, grow), np.uint8))


def _lip_stretched_over(image: np.ndarray, teeth: np.ndarray, lip: np.ndarray) -> np.ndarray:
    """`image` with the `lip` above the `teeth` in each column stretched down over them, blended in over a pixel."""
    rows = np.arange(image.shape[0], dtype=np.float32)
    map_x = np.broadcast_to(np.arange(image.shape[1], dtype=np.float32), image.shape[:2]).copy()
    map_y = np.broadcast_to(rows[:, None], image.shape[:2]).copy()
    over = np.zeros(image.shape[:2], bool)
    columns = np.nonzero(teeth.any(0))[0]
    tops = np.array([np.argmax(teeth[:, x]) for x in columns])
    bottoms = np.array([teeth.shape[0] - np.argmax(teeth[::-1, x]) for x in columns])
    starts = tops - np.array([_run_above(lip[:, x], top) for x, top in zip(columns, tops, strict=True)])
    # the teeth's top edge is ragged, the lip's outer edge is not: each column's share of lip smoothed along the
    # mouth (stretched column by column as found, the lip was streaked)
    share = cv2.GaussianBlur(((tops - starts) / (bottoms - starts)).astype(np.float32)[None, :], (0, 0), STREAKS)[0]
    for x, start, bottom, lip_share in zip(columns, starts, bottoms, share, strict=True):
        if lip_share <= 0:
            continue
        span = np.arange(start, bottom)
        map_y[start:bottom, x] = start + (span - start + 0.5) * lip_share - 0.5
        over[start:bottom, x] = True
    painted = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    return _blended_in(image, painted, over)


def _blended_in(image: np.ndarray, painted: np.ndarray, where: np.ndarray) -> np.ndarray:
    """`image` with `painted` (float32) laid over it `where` (a boolean mask), blended in over a pixel: painted in
    hard, the patch's edge was a staircase."""
    alpha = np.maximum(cv2.GaussianBlur(where.astype(np.float32), (0, 0), 1.0), where)[..., None]
    return np.round(image + alpha * (painted - image)).astype(image.dtype)


def _shade_on(image: np.ndarray, lip: np.ndarray, teeth: np.ndarray) -> np.ndarray:
    """The dark shade on a `lip` that touches its `teeth` (a commissure's), much darker than the lip: left beside
    the teeth painted over, it was a dark wedge at a pressed corner."""
    return _dark_touching(image, lip, lip & ~teeth, teeth)


def _dark_touching(
    image: np.ndarray, within: np.ndarray, lips: np.ndarray, touched: np.ndarray, shade: float = LIP_SHADE
) -> np.ndarray:
    """What lies `within` (a boolean mask) darker than `shade` of the median luma of the `lips`, in pieces that
    touch `touched`, a boolean mask."""
    luma = cv2.GaussianBlur(image.astype(np.float32) @ LUMA, (0, 0), 1.0)
    dark = within & (luma < shade * np.median(luma[lips]))
    _, labels = cv2.connectedComponents(dark.astype(np.uint8), connectivity=8)
    near = cv2.dilate(touched.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    pieces = np.unique(labels[near & dark])
    return np.isin(labels, pieces[pieces > 0])


def _run_above(column: np.ndarray, row: int) -> int:
    """How many pixels of `column` (boolean) are set right above `row`, in one run."""
    above = column[:row][::-1]
    return int(np.argmin(above)) if not above.all() else len(above)


def _teeth_at_corners(teeth: np.ndarray, points: np.ndarray, frame: FaceFrame, middle: tuple[int, int]) -> np.ndarray:
    """The photo's `teeth` on a lip (`teeth_in_pixels`, on the lip alone: they reach out past the lips, where a
    smile's skin is as pale as they are) beside the opening's middle (between the inner-lip landmarks `middle`),
    towards the corners, where they reach past dlib's inner lips (Grace Hopper opened by the rig): left in what the
    warp samples, her lips pressed together kept a grey speck of her upper teeth at a corner. Painted over in the
    middle too, where the teeth reach a little above dlib's upper inner lip, her pressed lips showed that band as a
    wider dark line (read 0.07, not closed)."""
    teeth = teeth.copy()
    ys, xs = np.nonzero(teeth)
    along = (np.stack([xs, ys], 1) - points[INNER_CORNERS[0]]) @ frame.right
    ends = np.sort((points[list(middle)] - points[INNER_CORNERS[0]]) @ frame.right)
    beside = (along < ends[0]) | (along > ends[1])
    teeth[ys[~beside], xs[~beside]] = False
    return teeth
