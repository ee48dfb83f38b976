"""Closing lids: the skin and lashes a blinking eye shows that an open-eyed photo does not.

The photo's upper lid stays where it is; a lid slides down from its crease over the eyeball, fading into the photo
from its lashes up past the crease and out past the corners, so no outline shows. Its skin is grown, once per face,
from the skin around the eye (above, below, beside) over the eye and its lashes, smoothed, toned like the photo's
own lid in the socket's shade (but lit almost like the skin below the eye where the fold's shadow darkens that lid,
and no part of it much darker) and given the fine grain of the skin below the eye, so it is lit like the face
there and meets the photo without a seam; per frame it is shaded as a lid rolling over the eyeball (lit in its
middle, darker towards the corners and the lash line). Its edge carries a dark lash line, thicker towards the outer
corner, soft below the edge where the lashes hang. Deep-set eyes' closed lids (their own lid skin in the socket's
shade, DEEP_SET) are instead grown over all they cover, the open eye's fold included, from the skin around them,
and their lash line is as dark as the photo's lashes (_deep_set_lids). A closed lid ends in a smooth arc just past
the lower lid (which hardly moves in a blink), so no eye white is left, the corners included. Over a soft photo (a
small face enlarged) lid and lashes are blurred to the photo's own softness around the eyes. All geometry is per
output pixel in the face's own (photo) frame, so a turned or tilted head needs nothing extra; a face that leans in
the photo itself (past analysis.LEANING_EYES) has its lids built and drawn in that frame turned upright.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.face.analysis import LEANING_EYES
from models.face.frame import BROWS, JAW, LEFT_EYE_SLIT, RIGHT_EYE_SLIT
from models.face.landmarks import leaning
from models.face.tone import LUMA, at_most_as_coloured, colour_spread, over_channels
from models.render.softness import photo_softness, reference_softness

EYES = (LEFT_EYE_SLIT, RIGHT_EYE_SLIT)
OUTER = (0, -1)  # where each eye's outer corner is in its chains (dlib's 36 and 45)
# In eye widths (corner to corner) unless said otherwise:
LASH_BAND = 0.15  # how far above the upper-lid landmarks the photo's lashes reach: not part of the lid skin
CREASE_AT = 0.45  # the crease lies this far from the lid line towards the brow
CREASE_LIMITS = (0.25, 0.6)
BROW_SHARE = 0.5  # ... and at most this share of the way up to the brow (a squint's brow lies low over the lashes)
OVERSHOOT = 0.06  # a closed lid's edge reaches this far past the lower lid: no eye white is left
CORNER_REACH = (0.08, 0.15)  # the lid reaches past the inner and outer corner (eye white and lashes hide there)
# eye widths past the outer corner: on a sharp photo the eye and lashes painted over (grown over with skin) end here,
# the wing of lashes beyond stays as the photo shows it (painted over, a lid longer than her eye: astronaut_at_edge's
# shut frames over 15 head poses 0.353 on average, 9 of them over the identity bar of 0.35; 0.338, none); a soft
# photo's lashes out to CORNER_REACH turn down with the lid (_corner_lashes_flipped)
SHARP_PAINTED_REACH = 0.08
LASH_WIDTH = (0.02, 0.045)  # half thickness of the lash line at the inner and the outer corner
# A soft photo's lashes at the outer corner, swept up and out, turn down as the lid closes (_corner_lashes_flipped):
FLIP_FROM = 0.85  # of the corners' distance: those from here out past the outer corner...
FLIP_DARK = 0.5  # ... this much darker than the grown skin (or more) are covered and drawn in the lash line in full
FLIP_SAMPLES = 6  # ... there as dark as the darkest of this many points above the lid line (2 LASH_BAND high)
FLIP_SMOOTH = 0.02  # eye widths: how much their darkness is smoothed
LASH_ALPHA = 0.65  # at the line's middle: closed, the lashes hang over the lower lid and its skin shows between them
FADE_IN = 0.15  # blink amount over which the slid lid replaces the photo's own lashes
STRIP_FADE = 0.4  # of the crease to lashes distance: the lid fades in from this above the crease to its lashes
MIN_STRIP = 0.1  # eye widths: ... that distance taken as at least this (a low crease is at the lashes' top or below)
SIDE_FADE = 0.1  # eye widths: ... and out past the corners over CORNER_REACH and this much more
SOFT_SIGMA = 1.2  # px: smooths the inpainting's own streaks
TONE_SIGMA = 0.05  # eye widths: the lid's tone is the skin's, this much smoothed
LID_TONE = (0.8, 1.4)  # limits of the brightness change that gives the grown lid skin its tone
LIT_LID = 0.85  # a closed lid is at least this bright against the skin below the eye: the eyeball's front is lit
UNSHADED = 0.7  # ... and no part of it darker than this (a socket's shadow grown into it read as an open eye)
DARK = 0.9  # pixels around the eye darker than this (against their median) are lashes or shadow, not skin
LASHES_DARK = 0.6  # ... and darker than this are lashes: the lid's tone counts the shadow, not them
# A face whose eyes' own lid skin (median, between the lashes and the crease) is darker than this against the skin
# below the eye, both eyes, has deep-set eyes (_deep_set_lids). Its shallower eye's: six held-out faces 0.48-0.70
# (deep sockets whose closed lids, toned like the photo's lid, were lit almonds ringed by the open eye's fold: no
# reader counted a blink on two of them); the other held-out faces 0.74 and up, the sample photos 0.80 and up
# (astronaut_small 0.80, astronaut 0.84, astronaut_at_edge 0.86, grace_hopper 1.00). Grown over all it covers with
# a lash line as dark as the photo's on every face, dlib's identity moved past the bar on astronaut_at_edge and
# astronaut_small (0.36, 0.35) and a held-out face (0.37), and another's blinks (0.78) went uncounted.
DEEP_SET = 0.72
# A deep-set eye's closed lid (_deep_set_lids):
DEEP_LASH_ALPHA = 1.0  # its lash line as dark as the photo's (0.65 was two to four times lighter: the socket's shadow
# outdid it and the readers took that for the eye's outline)
DEEP_LASH_WIDTH = 1.5  # ... and this much thicker than LASH_WIDTH
LASH_DARKEST = 3  # percent: ... the colour of the darkest pixels just above the open eye's lid line
LID_BLEND = 0.1  # eye widths: ... its grown skin blends into the photo's over this much (Gaussian sigma)
MEMBRANE_STEPS = 40  # smoothing steps per level of its skin's harmonic fill (_harmonic)
GRAIN_CLIP = 10.0  # stronger details (lashes, hairs) are not grain
LOWER_LASHES = 0.12  # how far below the lower-lid landmarks the lower lashes reach
ROUND = (0.04, 0.12)  # the lid is curved over the eyeball: lit in its middle, darker towards corners and edge
LASH_CLUMPS = 0.3  # the lashes below the edge gather in clumps: their darkness varies this much along the lid
HALO = 1.0  # of the photo's softness (px): the grown skin's mask reaches this far past the eyes and lashes
# Over a soft photo (past SHARP_SOFTNESS) the eye's darkness (lashes, make-up, the socket's shade) is blurred out past
# its landmarks by about the photo's softness, both ways:
# - its own lid skin, which tones the closed lid and tells a deep-set eye (DEEP_SET), is taken from HALO softnesses
#   above its lashes (LASH_BAND) on: next to them it held their blur, and the astronaut shrunk to a 45-60 px face
#   (160 px photo: 0.71, 0.70) or a held-out 70 px one read as deep-set, their closed lids darker than the skin
#   around them (a flat grey-purple patch ringed by the lash line);
# - a closed lid spreads out past its outline (above and beside the eye) over them, as a blur of LID_HALO softnesses
#   (at least as opaque as it was): fading out where the photo's blurred lashes began, it left them as a dark arc
#   around its top, which with the lash line below read as a ring (an egg) rather than a closed eye. Grown by 2.5
#   softnesses instead (opaque that far), it hid them all, but took what dlib's descriptor reads as the eye with
#   them: held-out faces' shut frames 0.03-0.05 further from the photo (spread by 1.5: -0.04 to +0.015);
# - its edge reaches OVERSHOOT past the lower lid less the softness in its middle (the lash line and the lid's edge,
#   blurred by it, reach that far anyway; at the corners as before: raised there too, the line's blurred outer end
#   rose into the corner's lashes): the full overshoot put the soft photo's lash line 0.03-0.09 eye widths below the
#   lower-lid landmarks, a deep "U" under the eye (the astronaut shrunk to a 240 px photo: 0.180 below the corners
#   against her lower lid's 0.117; now 0.119; held-out faces 0.03-0.09 higher).
LID_HALO = 1.5
# Over a soft photo the eye's colour bleeds further still (a small face's photo keeps its colour at half its
# resolution or less: JPEG's 4:2:0): the eye white, iris and lashes tint the skin around the eye, the lid skin
# between the lashes and the crease included, and the red and magenta fringes of the lash line lie along it. Grown
# from that skin and toned like that lid, a closed lid took the tint over all the eye: a pink or magenta-grey almond
# on held-out 60-80 px faces. Its skin, from the crease down past the lower lashes, keeps its brightness but takes
# the colour (chroma) of the skin over the eye past that bleed: a band AROUND_BAND eye widths high from the crease
# or CHROMA_BLEED softnesses past the lashes (LASH_BAND), whichever is higher, kept AROUND_BROW under the brow; where
# that leaves none, the skin below the eye. (With the skin below the eye always in, lids over eye make-up or below
# a pale under-eye went grey: a held-out face's brown lids, another's peach ones.) That colour is at most as coloured
# as the skin grown over the eye (its log over R, G and B spreads no more): on a small face with a squint or low brows
# the band lay in the brows' blur, and the lids were orange eggs (held-out faces of a group photo: its colour spread
# 0.86-1.18, the skin around their eyes 0.3-0.6). On sharp photos nothing changes.
AROUND_BAND = 0.15
AROUND_BROW = 0.1
CHROMA_BLEED = 6.0  # softnesses: 3 sigma of a blur twice the photo's (its colour at half the resolution)
CHROMA_BLEND = 0.1  # eye widths: the lid's colour blends into the grown skin's over this much (Gaussian sigma)
# px of softness over which that colour comes in, from none to all: a photo hardly softer than the sharp gallery's
# has little colour bleed (lenna, 1.10 soft, took her brow's paler skin's colour: a grey-green lid on her pink face)
CHROMA_SOFTNESS = (1.1, 2.0)  # (SHARP_SOFTNESS, ...)
SHARP_SOFTNESS = 1.1  # px: as soft as the sharp gallery photos (astronaut 1.04, at the edge 1.08, cameraman 1.04)
# (both softnesses as the photo reads framed at models/render/softness.REFERENCE_SIZE, 512 px: _softness)
DRAWN_SOFTNESS = 1.0  # px: how soft the drawn lid's edges are already (anti-aliasing, the lashes' profile)
# brow heights over the lid line (eye widths) from which to which an eye goes from showing its lid to hooded: its lid
# hidden under the fold, whose edge over the lashes (LASH_BAND) a closed lid leaves as the photo shows it. The
# cameraman's squinting near eye: 0.29 (his clip's identity max 0.399, on a shut frame; 0.333 with the fold kept),
# his far eye 0.47; the other sample photos and held-out faces 0.54 and up (their pixels unchanged)
HOODED_BROW = (0.5, 0.3)
FOLD_SOFTNESS = 0.02  # eye widths (at least 0.7 px): how far the fold's edge blends into the lid slid out under it
# The eye line (outer corner to outer corner) may lean analysis.LEANING_EYES degrees (the eyes' refit) before the lids
# are built and drawn on the face turned upright (EyeLayers.upright): their geometry (above and below the lid lines,
# the lid sliding down, its closed arc) runs along the photo's rows and columns. A held-out smiling woman leaning 41
# degrees closed her far eye with a lid that slid down the picture across her slanted eye: a dark lash line looped
# around a lit almond, which the eye model read at 0.74 of open. The sample photos lean 11 degrees at most, the
# held-out faces that lean past it 24-41 (the others 17 and less): theirs alone change.
# Heavy painted lashes (thick black upper lashes with a wing past the outer corner, heavy eye make-up): both eyes'
# band over the lid line (LASH_BAND, from HEAVY_FROM of the way to the outer corner) and their wing past it (out to
# HEAVY_WING, up to 2 LASH_BAND) this share of pixels (or more) darker than HEAVY_DARK of the skin below the eye.
# A held-out face in heavy make-up 0.82 and up, all other faces' smallest of the four 0.62 and less (most under
# 0.3). Its closed lid was a flat patch with a lash line far thinner than her lashes, her wings left standing past
# its ends as black smudges (identity 0.359 on the blink frames): their lids cover and turn down the lashes past the
# outer corner out to HEAVY_WING (as a soft photo's, _corner_lashes_flipped) and their lash line is as dark as the
# photo's lashes and HEAVY_LASH_WIDTH thicker. Rendered closed, her identity distance: 0.288 before, with the wings
# turned down alone 0.291, with the line 1.5, 2.5, 3, 3.5, 5 times thicker 0.28, 0.275, 0.268, 0.265, 0.252 (at 5 a
# black block under the lid, at 3 a dense fringe like her own lashes); with the turned-down wing tapering to its tip
# (at full length it ended square) 0.264. Her clip's identity max 0.359 -> 0.329 (blinks 20.4, seam 1.220 -> 1.239).
HEAVY_LASHES = 0.75
HEAVY_LASH_WIDTH = 3.0
HEAVY_DARK = 0.35
HEAVY_FROM = 0.2
HEAVY_WING = 0.25


def _eye_widths(points: np.ndarray) -> list[float]:
    """Each eye's width, corner to corner along its upper lid's ends (px)."""
    return [float(np.linalg.norm(points[upper[-1]] - points[upper[0]])) for upper, _ in EYES]


def eyes_past_edge(points: np.ndarray, size: int) -> np.ndarray:
    """`points` (68 landmarks in a `size` px frame) with an eye cut by the frame's left or right edge stretched
    along its corner-to-corner axis, from its inner corner, to the other eye's width, its lids' curves kept: it runs
    on past the edge, and the mesh's eye slit, the blink and the closing lid cover what the photo shows of it up to
    the edge. An eye is cut where the face runs past the edge (a jaw point beyond it) and the eye, as wide as the
    other one, would reach it. dlib fits such an eye squeezed inside the frame: a held-out face's, with his iris at
    the edge, 0.79 of his other eye's width; closed over that, the iris and white at the edge stayed open (stretched
    further, to put the edge 0.75 of the way to the outer corner, the lid took its grain from the under-eye fold: a
    line across it). Any other face's points are returned as they are."""
    widths = _eye_widths(points)
    stretched = points
    for eye, (upper, lower) in enumerate(EYES):
        chain = list(dict.fromkeys(upper + lower))
        outer, inner = points[upper[OUTER[eye]]], points[upper[-1 - OUTER[eye]]]
        axis = (outer - inner) / max(widths[eye], 1e-6)
        if abs(axis[0]) < 1e-6:
            continue
        edge = -0.5 if axis[0] < 0 else size - 0.5
        to_edge = float((edge - inner[0]) / axis[0])  # along the axis, from the inner corner
        beyond = points[JAW, 0] < edge if axis[0] < 0 else points[JAW, 0] > edge
        if to_edge > widths[1 - eye] or not beyond.any():
            continue
        along = (points[chain] - inner) @ axis
        if stretched is points:
            stretched = points.copy()
        stretched[chain] += (along * (widths[1 - eye] / widths[eye] - 1))[:, None] * axis
    return stretched


@dataclass
class EyeLayers:
    skin: np.ndarray  # (size, size, 3) float32: the photo with its eyes and lashes painted over with skin, smooth
    grain: np.ndarray  # (size, size, 3) float32: fine skin texture (from below the eyes) for the lids, around 0
    lash_rgb: np.ndarray  # (2, 3) float32 per eye
    width: np.ndarray  # (2,) eye widths in px
    crease: np.ndarray  # (2,) px from the upper-lid line up to the crease
    softness: float = 0.0  # px: the drawn lid is blurred by this much to be as soft as the photo around the eyes
    fold: np.ndarray | None = None  # (size, size) float32: a hooded eye's fold edge, a gain on the lid (1: none)
    lashes: np.ndarray | None = None  # (size, size) float32: how much darker than the grown skin the lashes are, 0..1
    deep_set: bool = False  # the closed lid is grown over all it covers, its lash line as dark as the photo's
    # (2, 3) float32: the face frame to the upright one the layers are in (a face leaning past LEANING_EYES); None:
    # they are in the face frame
    upright: np.ndarray | None = None
    heavy_lashes: bool = False  # heavy painted lashes (HEAVY_LASHES): a lash line as dark as the photo's
    # the photo is softer than the sharp gallery photos (SHARP_SOFTNESS, at softness.REFERENCE_SIZE): its lids cover
    # the eye's blur (LID_HALO)
    soft: bool = False

    @property
    def blur_reach(self) -> float:
        """px: how far the drawn lid reaches past where it is drawn: its blur (3 sigma), and over a soft photo its
        spread (LID_HALO)."""
        return 3 * (1 + (LID_HALO if self.soft else 0.0)) * self.softness


def build_eyes(image: np.ndarray, points: np.ndarray) -> EyeLayers:
    """What the eyes look like closed, before shading: the skin around each eye (above, below, beside) grown
    over the eye and its lashes, so it meets the photo without a seam, with the fine texture of the skin
    below the eye (the lid's own skin has no texture left to take). A face leaning past LEANING_EYES has them
    built on the photo turned upright about its eyes (EyeLayers.upright), where close_lid draws them."""
    lean = leaning(points)
    if abs(lean) <= LEANING_EYES:
        return _build_eyes(image, points)
    eyes = points[[i for eye in EYES for chain in eye for i in chain]].mean(0)
    matrix = cv2.getRotationMatrix2D((float(eyes[0]), float(eyes[1])), lean, 1.0).astype(np.float32)
    size = image.shape[1], image.shape[0]
    turned = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    layers = _build_eyes(turned, cv2.transform(points[None].astype(np.float32), matrix)[0])
    layers.upright = matrix
    return layers


def _build_eyes(image: np.ndarray, points: np.ndarray) -> EyeLayers:
    """build_eyes in the frame of `image` and `points`."""
    size = image.shape[0]
    luma = image.astype(np.float32) @ LUMA
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    mask = np.zeros((size, size), bool)
    creases, textured, lid_skin, folds, rims, covers, lid_light = [], [], [], [], [], [], []
    arounds = []  # per eye: the skin around it past its colour's bleed (AROUND_BAND)
    widths = _eye_widths(points)
    mean_width = float(np.mean(widths))
    # px, and as the photo reads framed at softness.REFERENCE_SIZE, which the gates below compare
    softness, reference = _softness(luma, points[[i for eye in EYES for chain in eye for i in chain]], mean_width)
    soft_photo = reference > SHARP_SOFTNESS
    heavy = _heavy_lashes(luma, points, widths)
    lashes_blur = HALO * softness if soft_photo else 0.0  # px: how far the lashes are blurred into the skin above
    painted_reach = HEAVY_WING if heavy else CORNER_REACH[1] if soft_photo else SHARP_PAINTED_REACH
    for eye, ((upper, lower), brow) in enumerate(zip(EYES, BROWS, strict=True)):
        lid, under = points[list(upper)], points[list(lower)]
        width = widths[eye]
        to_brow = float(np.median(_along(lid, points[list(brow), 0]) - points[list(brow), 1]))
        crease = float(np.clip(CREASE_AT * to_brow, CREASE_LIMITS[0] * width, CREASE_LIMITS[1] * width))
        # Kept a quarter of an eye width up over a squint, the crease lay in the brow and the lid painted it over.
        crease = min(crease, BROW_SHARE * to_brow)
        above = _along(lid, xs) - ys
        outward = (xs - lid[-1 - OUTER[eye], 0]) / (lid[OUTER[eye], 0] - lid[-1 - OUTER[eye], 0])
        reach = np.array(CORNER_REACH) * width / abs(lid[-1, 0] - lid[0, 0])
        beside = (outward > -reach[0]) & (outward < 1 + reach[1])
        # the eye and lashes painted over (grown over with skin): heavy lashes' wings out past `beside`
        painted = (outward > -reach[0]) & (outward < 1 + painted_reach * reach[1] / CORNER_REACH[1])
        if not heavy:
            painted &= beside
        below = ys - _along(under, xs)
        eye_and_lashes = painted & (above < LASH_BAND * width) & (below < LOWER_LASHES * width)
        # Longer lashes, the fold's shadow, shadowed corners: darker than the skin around the eye.
        near = painted & (above < crease) & (below < 2 * LOWER_LASHES * width) & ~eye_and_lashes
        median = np.median(luma[near])
        dark = near & (luma < DARK * median)
        mask |= eye_and_lashes | dark
        # The photo's own lid skin, between its lashes and the crease, in the socket's and the fold's shade: the
        # tone a closed lid has (toned from its brightest skin alone, a closed lid read as a pale patch).
        skin_tone = luma > LASHES_DARK * median
        own = beside & (above > LASH_BAND * width + lashes_blur) & (above < crease) & skin_tone
        under_eye = beside & (below > LOWER_LASHES * width) & (below < 3 * LOWER_LASHES * width) & skin_tone
        lid_skin.append((own, under_eye, eye_and_lashes))
        # The skin over the crease past the lashes' colour bleed (or, where the brow leaves none, below the eye):
        # the colour of a soft photo's closed lid (AROUND_BAND)
        start = max(crease, LASH_BAND * width + CHROMA_BLEED * softness)
        top = min(start + AROUND_BAND * width, to_brow - AROUND_BROW * width)
        over_crease = beside & skin_tone & (above > start) & (above < top)
        arounds.append(over_crease if over_crease.sum() > 10 else under_eye)
        # All that the closed lid covers, from the crease down past the lower lashes, and what is no skin there.
        covers.append((beside & (above < crease) & (below < LOWER_LASHES * width), ~skin_tone))
        lid_light.append(_lid_light(luma, own, under_eye))
        rim = beside & (above > 0) & (above < LASH_BAND * width)
        folds.append(np.clip((HOODED_BROW[0] - to_brow / width) / (HOODED_BROW[0] - HOODED_BROW[1]), 0, 1) * rim)
        rims.append(rim)
        creases.append(crease)
        shift = round(crease + float(np.ptp(np.concatenate([lid, under])[:, 1])) + 2 * LOWER_LASHES * width)
        margin = max(CORNER_REACH) * width + 2
        x0, y0 = np.floor(lid.min(0) - [margin, crease + 2]).astype(int)
        x1, y1 = np.ceil(np.maximum(lid.max(0), under.max(0)) + margin).astype(int)
        y0, x0, x1 = max(y0, 0), max(x0, 0), min(x1, size)
        y1 = min(y1, size - shift)
        textured.append(((slice(y0, y1), slice(x0, x1)), (slice(y0 + shift, y1 + shift), slice(x0, x1))))
    # On a soft photo the lashes' dark halo reaches past the masks: grown from it, the lid had a dark rim.
    halo = max(3, 1 + 2 * int(np.ceil(HALO * softness)))
    mask = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (halo, halo)))
    skin = cv2.inpaint(np.ascontiguousarray(image), mask, max(3.0, 0.1 * mean_width), cv2.INPAINT_TELEA)
    smooth = max(SOFT_SIGMA, TONE_SIGMA * mean_width)
    skin = cv2.GaussianBlur(skin, (0, 0), smooth).astype(np.float32)
    img = image.astype(np.float32)
    deep_set = max(lid_light) < DEEP_SET
    if deep_set:
        skin = _deep_set_lids(img, skin, mask.astype(bool), covers, lid_skin, smooth, mean_width)
    else:
        # Grown from the brighter skin around it, the skin over the eye is lighter than a lid in the socket's shade:
        # it takes the tone of the photo's own lid (_lid_tone).
        for own, under_eye, over_eye in lid_skin:
            if own.sum() > 10 and over_eye.any():
                gain = _tone_gain(_lid_tone(img[own], img[under_eye]), skin[over_eye].mean(0))
                soft = cv2.GaussianBlur(over_eye.astype(np.float32), (0, 0), 0.1 * mean_width)[..., None]
                skin *= 1 + soft * (gain - 1)
                if under_eye.sum() > 10:  # no part of it in shade either (_lit_gain)
                    skin *= 1 + soft * (_lit_gain(skin, UNSHADED * _luma(img[under_eye].mean(0))) - 1)
    bleed = float(np.clip((reference - CHROMA_SOFTNESS[0]) / (CHROMA_SOFTNESS[1] - CHROMA_SOFTNESS[0]), 0, 1))
    if bleed > 0:
        skin = _colour_of_skin_around(skin, img, [covered for covered, _ in covers], arounds, mean_width, bleed)
    lashes = [_lash_colour(image[rim], luma[rim], deep_set or heavy) for rim in rims]
    # The grain is what that smoothing takes out: the skin's texture up to TONE_SIGMA (kept finer than 2 px alone,
    # a lid at 1024 px, where an eye is 100 px wide, was smoother than the skin around it).
    grain = np.clip(img - cv2.GaussianBlur(img, (0, 0), smooth), -GRAIN_CLIP, GRAIN_CLIP)
    lid_grain = np.zeros_like(img)
    for lid_region, below_region in textured:
        lid_grain[lid_region] = grain[below_region]
    fold = _fold_shade(luma, skin, np.sum(folds, 0), mean_width)
    return EyeLayers(
        skin,
        lid_grain,
        *(np.array(v, np.float32) for v in (lashes, widths, creases)),
        softness,
        fold,
        _corner_lashes(luma, skin, mask, mean_width) if soft_photo or heavy else None,
        deep_set,
        heavy_lashes=heavy,
        soft=soft_photo,
    )


def _heavy_lashes(luma: np.ndarray, points: np.ndarray, widths: list[float]) -> bool:
    """Whether both eyes have heavy painted lashes (HEAVY_LASHES): over the lid line and in a wing past the outer
    corner, nearly all darker than HEAVY_DARK of the skin below the eye."""
    size = luma.shape[0]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    shares = []
    for eye, (upper, lower) in enumerate(EYES):
        lid, under = points[list(upper)], points[list(lower)]
        width = widths[eye]
        above = _along(lid, xs) - ys
        below = ys - _along(under, xs)
        outward = (xs - lid[-1 - OUTER[eye], 0]) / (lid[OUTER[eye], 0] - lid[-1 - OUTER[eye], 0])
        under_eye = (outward > 0) & (outward < 1) & (below > LOWER_LASHES * width) & (below < 3 * LOWER_LASHES * width)
        band = (outward > HEAVY_FROM) & (outward < 1) & (above > 0) & (above < LASH_BAND * width)
        wing = (outward > 1) & (outward < 1 + HEAVY_WING) & (above > -0.05 * width) & (above < 2 * LASH_BAND * width)
        if not (under_eye.any() and band.any() and wing.any()):
            return False
        dark = HEAVY_DARK * float(np.median(luma[under_eye]))
        shares += [float(np.mean(luma[band] < dark)), float(np.mean(luma[wing] < dark))]
    return min(shares) >= HEAVY_LASHES


def _lid_light(luma: np.ndarray, own: np.ndarray, under_eye: np.ndarray) -> float:
    """How light the photo's `own` lid skin is (median `luma`) against the skin below the eye (mean): low in a deep
    socket's shade (DEEP_SET)."""
    if not own.any() or not under_eye.any():
        return 1.0
    return float(np.median(luma[own])) / max(float(luma[under_eye].mean()), 1.0)


def _lash_colour(rim: np.ndarray, luma: np.ndarray, deep_set: bool) -> np.ndarray:
    """The closed lid's lash line colour from the `rim` pixels just above the open eye's lid line: 0.8 of their
    darkest 15 %, or a deep-set eye's as dark as their darkest LASH_DARKEST % (the photo's lashes)."""
    if deep_set:
        return rim[luma <= np.percentile(luma, LASH_DARKEST)].astype(np.float32).mean(0)
    return rim[luma <= np.percentile(luma, 15)].astype(np.float32).mean(0) * 0.8


def _corner_lashes(luma: np.ndarray, skin: np.ndarray, mask: np.ndarray, width: float) -> np.ndarray:
    """How much darker than the grown `skin` the photo (`luma`) is where its lashes were painted over (`mask`),
    0..1, smoothed (cut off where the mask ends, a lash line drawn from it ended past the corner in a square block).
    Only over a soft photo: on the sharp astronaut at the edge, whose lashes past the corner are a thin wing, the
    lashes turned down cost identity on a blink frame (0.342 -> 0.351)."""
    darker = mask * _darker_than_skin(luma, skin)
    return cv2.GaussianBlur(darker.astype(np.float32), (0, 0), max(1.0, FLIP_SMOOTH * width))


def _darker_than_skin(luma: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """How much darker than the grown `skin` (RGB) the photo (`luma`) is at each pixel, 0..1."""
    return np.clip(1 - luma / np.maximum(skin @ LUMA, 1.0), 0.0, 1.0)


def _fold_shade(luma: np.ndarray, skin: np.ndarray, band: np.ndarray, width: float) -> np.ndarray | None:
    """The gain that darkens the grown lid `skin` to the photo's `luma` over a hooded eye's open lid line (`band`:
    0 to 1, how hooded), 1 elsewhere; None where no eye is hooded. A blinking lid slides out from under the fold,
    whose edge and shadow over the lashes stay: painted over with lit lid skin, the squinting cameraman's closed
    eye read as another man (identity 0.39, his open eyes 0.30; his lashes' band pasted back 0.28)."""
    if not band.any():
        return None
    darker = _darker_than_skin(luma, skin)
    weight = cv2.GaussianBlur(band.astype(np.float32), (0, 0), max(FOLD_SOFTNESS * width, 0.7))
    return (1 - weight * darker).astype(np.float32)


def _deep_set_lids(
    image: np.ndarray,
    skin: np.ndarray,
    painted: np.ndarray,
    covers: list[tuple[np.ndarray, np.ndarray]],
    lid_skin: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    smooth: float,
    width: float,
) -> np.ndarray:
    """The grown `skin` with each deep-set eye's closed lid continuing the skin around it over all it `covers` (the
    crease down past the lower lashes; what is no skin there left out, as the eye and lashes `painted` over), lifted
    to at least UNSHADED of the skin below the eye. Only its eye and lashes grown over and toned like the photo's
    lid, it was a lit almond in the socket's shade ringed by the open eye's fold, which the evaluator's readers
    took for an open eye."""
    for (covered, not_skin), (_, under_eye, _) in zip(covers, lid_skin, strict=True):
        if covered.any():
            grown = cv2.GaussianBlur(_grown_lid(image, covered | painted | not_skin, covered), (0, 0), smooth)
            if under_eye.sum() > 10:  # not as dark as a bruise either (_lit_gain)
                grown *= _lit_gain(grown, UNSHADED * _luma(image[under_eye].mean(0)))
            blend = cv2.GaussianBlur(covered.astype(np.float32), (0, 0), LID_BLEND * width)[..., None]
            skin += blend * (grown - skin)
    return skin


def _grown_lid(image: np.ndarray, unknown: np.ndarray, lid: np.ndarray) -> np.ndarray:
    """`image` (float32 RGB) with its `unknown` pixels in a box around the `lid` filled smoothly from the others
    around them (a harmonic fill: each the mean of its neighbours), so the lid meets the skin around it everywhere
    in its tone: shaded under a deep socket's brow, lit where the skin beside it is."""
    ys, xs = np.nonzero(lid)
    pad = 3
    y0, x0, x1 = ys.min() - pad, xs.min() - pad, xs.max() + pad + 1
    box = (slice(max(y0, 0), ys.max() + 1), slice(max(x0, 0), x1))
    free = unknown[box].copy()
    # The box's edges inside the photo hold the fill; not its bottom (the lit cheek below the eye: grown from it,
    # a closed lid was lighter than the photo's own lid), nor the photo's edge (an eye cut by it: its iris)
    free[0, :] &= y0 < 0
    free[:, 0] &= x0 < 0
    free[:, -1] &= x1 > image.shape[1]
    filled = image.copy()
    filled[box] = _harmonic(image[box].copy(), free)
    return filled


def _harmonic(values: np.ndarray, free: np.ndarray) -> np.ndarray:
    """`values` with the `free` pixels the mean of their neighbours, solved coarse to fine (a coarser level's answer
    is the next finer level's start, MEMBRANE_STEPS smoothing steps each)."""
    height, width = free.shape
    if min(height, width) > 8:
        known = (~free).astype(np.float32)
        half = ((width + 1) // 2, (height + 1) // 2)
        weight = cv2.resize(known, half, interpolation=cv2.INTER_AREA)
        coarse = cv2.resize(values * known[..., None], half, interpolation=cv2.INTER_AREA)
        coarse = _harmonic(coarse / np.maximum(weight, 1e-6)[..., None], weight < 0.5)
        values[free] = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)[free]
    fixed = values[~free]
    for _ in range(MEMBRANE_STEPS):
        values = cv2.blur(values, (3, 3), borderType=cv2.BORDER_REPLICATE)
        values[~free] = fixed
    return values


def _colour_of_skin_around(
    skin: np.ndarray,
    image: np.ndarray,
    covers: list[np.ndarray],
    arounds: list[np.ndarray],
    width: float,
    share: float,
) -> np.ndarray:
    """The grown `skin` over all each closed lid `covers` with its brightness (luma) kept and, by `share`, the
    colour of the `image`'s skin `around` the eye (mean; at most as coloured as the grown skin there), blended in over
    CHROMA_BLEND eye widths (AROUND_BAND)."""
    for covered, around in zip(covers, arounds, strict=True):
        if around.sum() > 10 and covered.any():
            log = np.log(np.maximum(image[around].mean(0), 1.0))
            colour = np.exp(at_most_as_coloured(log - log.mean(), colour_spread(skin[covered].mean(0))))
            toned = (skin @ LUMA)[..., None] * (colour / _luma(colour))
            blend = np.clip(2 * cv2.GaussianBlur(covered.astype(np.float32), (0, 0), CHROMA_BLEND * width), 0, 1)
            skin += share * blend[..., None] * (toned - skin)
    return skin


def _lid_tone(lid: np.ndarray, under_eye: np.ndarray) -> np.ndarray:
    """A closed lid's colour: the photo's own `lid` skin (pixels), at least LIT_LID as bright as the skin below
    the eye. Between a deep-set eye's lashes and its crease lies the fold's shadow, and what little lid shows is
    in it; closed, the lid stretched over the eyeball catches the light (toned from that shade, it was a dark
    grey-brown patch on a smiling man's deep-set eyes, like a bruise)."""
    tone = lid.astype(np.float32).mean(0)
    if len(under_eye) > 10:
        tone *= max(LIT_LID * _luma(under_eye.astype(np.float32).mean(0)) / max(_luma(tone), 1.0), 1.0)
    return tone


def _lit_gain(skin: np.ndarray, floor: float) -> np.ndarray:
    """Per pixel, the gain that lifts `skin` darker than `floor` (luma) up to it, within LID_TONE. Toned as a whole,
    a lid grown from a socket's shadow (between the eye and the nose, under a brow) kept that shadow in part: a dark
    almond the evaluator's lid readers took for an open eye (a soft grey face with dark sockets, a turned man's
    inner corner)."""
    luma = skin @ LUMA
    return np.clip(floor / np.maximum(luma, 1.0), 1.0, LID_TONE[1])[..., None]


def _tone_gain(tone: np.ndarray, grown: np.ndarray) -> np.ndarray:
    """The gain per channel that gives skin of colour `grown` the colour `tone`, its change in brightness kept within
    LID_TONE (clipped per channel instead, a lid darkened towards a reddish shade lost some of its red)."""
    gain = tone / np.maximum(grown, 1.0)
    change = _luma(tone) / max(_luma(grown), 1.0)
    return gain * float(np.clip(change, *LID_TONE)) / max(change, 1e-3)


def _luma(rgb: np.ndarray) -> float:
    return float(rgb @ LUMA)


def _softness(luma: np.ndarray, eyes: np.ndarray, width: float) -> tuple[float, float]:
    """How much the drawn lid must be blurred (Gaussian sigma, px) to be as soft as the photo around the `eyes`
    (their landmarks, `width` px apart on average; models/render/softness.py), and how soft the photo reads there
    framed at softness.REFERENCE_SIZE (the gates between a soft photo and a sharp one). A lid drawn crisp over a
    small face enlarged read as pasted on."""
    x0, y0 = np.maximum(np.floor(eyes.min(0) - [0.3 * width, width]), 0).astype(int)
    x1, y1 = np.ceil(eyes.max(0) + [0.3 * width, 0.5 * width]).astype(int)
    region = luma[y0:y1, x0:x1]
    return photo_softness(region, DRAWN_SOFTNESS), reference_softness(region, DRAWN_SOFTNESS, luma.shape[0])


def close_lid(
    pixels: np.ndarray, at: np.ndarray, layers: EyeLayers, eye: int, upper: np.ndarray, lower: np.ndarray, blink: float
) -> None:
    """Draw eye `eye`'s upper lid, closed by `blink` (0..1), over `pixels` (float32 RGB, changed in place).

    `at`: each pixel's position in the face frame; `upper`, `lower`: the lid outlines there, corner to corner.
    """
    if layers.upright is not None:  # drawn where the layers were built: on the face turned upright
        at = cv2.transform(np.ascontiguousarray(at, np.float32), layers.upright)
        upper, lower = (cv2.transform(line[None].astype(np.float32), layers.upright)[0] for line in (upper, lower))
    width = float(layers.width[eye])
    outer, inner = upper[OUTER[eye]], upper[-1 - OUTER[eye]]
    span = float(outer[0] - inner[0])  # signed: 0 .. 1 from the inner to the outer corner
    # Closed, the lid's edge is a smooth arc between the corners, just past the lower lid (on a soft photo, past it
    # by what the blur does not reach, from the corners, where it ends as on a sharp photo, in; LID_HALO).
    lift = min(layers.softness, OVERSHOOT * width) if layers.soft else 0.0
    along = (lower[:, 0] - inner[0]) / span
    chord = inner[1] + np.clip(along, 0, 1) * (outer[1] - inner[1])
    arc = _arch(along)
    middle = np.abs(along - 0.5) < 0.25
    reach = lower[:, 1] + OVERSHOOT * width - lift * arc - chord
    sag = float(np.max(reach[middle] / arc[middle])) if middle.any() else OVERSHOOT * width - lift
    # Only the pixels the lid or its lashes can reach: the colour work is costly.
    x, y = at[..., 0], at[..., 1]
    margin = (max(CORNER_REACH + ((HEAVY_WING,) if layers.heavy_lashes else ())) + SIDE_FADE) * width
    strip = max(layers.crease[eye] - LASH_BAND * width, MIN_STRIP * width)
    above = layers.crease[eye] + STRIP_FADE * strip
    # ... the lash line's fringe included (a heavy one hangs further: cut off there, it ended in a straight edge)
    fringe = 2 * 1.6 * HEAVY_LASH_WIDTH if layers.heavy_lashes else 3
    bottom = max(float(chord.max()) + sag, float(reach.max() + chord.max())) + fringe * LASH_WIDTH[1] * width + 1
    near = (x > upper[:, 0].min() - margin) & (x < upper[:, 0].max() + margin)
    near &= (y > upper[:, 1].min() - above - 1) & (y < bottom)
    rows, cols = np.flatnonzero(near.any(1)), np.flatnonzero(near.any(0))
    if len(rows) == 0:
        return
    pad = int(np.ceil(layers.blur_reach))
    part = (
        slice(max(rows[0] - pad, 0), rows[-1] + 1 + pad),
        slice(max(cols[0] - pad, 0), cols[-1] + 1 + pad),
    )
    at = at[part]
    x, y = at[..., 0], at[..., 1]
    outward = (x - inner[0]) / span
    y_upper = _along(upper, x)
    chord = inner[1] + np.clip(outward, 0, 1) * (outer[1] - inner[1])
    bow = _arch(outward)
    closed = np.maximum(chord + sag * bow, _along(lower, x) + OVERSHOOT * width - lift * bow)
    edge = y_upper + blink * (closed - y_upper)
    # Past the corners the lid tapers and fades out: its top comes down to the lid line, steeply first, the
    # crease's arch going on (kept at the crease's height, the lid's top went flat at the outer corner), then
    # gently into the lid line (down to it within CORNER_REACH, its side was a steep wall: an outline).
    beyond = np.maximum(-outward, outward - 1) * abs(span) / width  # eye widths past the nearer corner
    taper = 1 - np.clip(beyond / (np.where(outward < 0.5, CORNER_REACH[0], CORNER_REACH[1]) + SIDE_FADE), 0, 1)
    crease = y_upper - layers.crease[eye] * taper**2
    fade = float(_smoothstep(blink / FADE_IN))
    # The lid hangs from the crease (which a closed, stretched lid softens: it blends in across it) over the eye.
    depth = np.clip((y - crease) / np.maximum(edge - crease, 1.0), 0, 1)  # 0 at the crease .. 1 at the edge
    # It fades into the photo from the lashes' top up to past the crease: faded about the crease alone, the lid's
    # top was an outline.
    lid = _smoothstep((y - crease + STRIP_FADE * strip) / max((1 + STRIP_FADE) * strip, 1.0)) * _smoothstep(taper)
    if layers.soft:  # ... and spreads out over the photo's lashes blurred past its top and sides (LID_HALO)
        lid = np.maximum(lid, cv2.GaussianBlur(lid.astype(np.float32), (0, 0), LID_HALO * layers.softness))
    lid = lid * np.clip(edge - y + 0.5, 0, 1) * fade
    thickness = (LASH_WIDTH[0] + (LASH_WIDTH[1] - LASH_WIDTH[0]) * np.clip(outward, 0, 1) ** 2) * width
    if layers.deep_set:
        thickness *= DEEP_LASH_WIDTH
    elif layers.heavy_lashes:
        thickness *= HEAVY_LASH_WIDTH
    # The lashes hang from the edge over what lies below it, in clumps, thin out into the inner corner and end
    # a little past the outer one.
    phase = outward * abs(span) / width * 2 * np.pi
    clumps = 1 - LASH_CLUMPS * (0.5 + 0.25 * np.sin(9 * phase) + 0.25 * np.sin(14 * phase + 1.3))
    below = y - edge
    # On a soft photo the lash line is blurred (below), and drawn wider first: blurred alone, it faded.
    reach = np.sqrt((np.where(below < 0, 0.6, 1.6) * thickness) ** 2 + layers.softness**2)
    hanging = np.exp(-((below / reach) ** 2))
    lash_alpha = DEEP_LASH_ALPHA if layers.deep_set or layers.heavy_lashes else LASH_ALPHA
    lash = (
        _lash_alpha(reach, layers.softness, lash_alpha)
        * hanging
        * np.where(below < 0, 1.0, clumps)
        * np.clip(outward / 0.12, 0, 1)
        * np.clip((1.08 - outward) / 0.06, 0, 1)
        * (fade**2 if layers.deep_set else fade)  # as dark as the photo's, it comes in after the lid: no eye darkens
    )
    around = np.clip((2 * outward - 1) ** 2, 0, 1)
    # Shaded as a lid over a round eyeball, lit from the front: the bulge lit in its middle, turning away (darker)
    # towards the lash line and the corners.
    shade = (1 + ROUND[0] * np.sin(np.pi * np.clip(depth * 1.15, 0, 1)) * (1 - around)) * (
        1 - ROUND[1] * np.clip(around + np.clip((depth - 0.55) / 0.45, 0, 1) ** 2, 0, 1)
    )
    colour = cv2.remap(layers.skin, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    colour += cv2.remap(layers.grain, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    colour *= over_channels(shade)
    if layers.fold is not None:  # a hooded eye's fold edge stays where it was (_fold_shade)
        fold = cv2.remap(layers.fold, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=1.0)
        colour *= over_channels(fold)
    if layers.lashes is not None:
        lid, lash = _corner_lashes_flipped(
            layers.lashes, at, lid, lash, outward, y_upper, edge, hanging, 2 * LASH_BAND * width, blink, lash_alpha
        )
        if layers.heavy_lashes:  # a wing turned down tapers out to its tip (at full length, it ended square)
            lash *= np.where(outward > 1, np.clip((1 + HEAVY_WING - outward) / HEAVY_WING, 0, 1), 1.0)
    if layers.softness:  # the lid's outline and its lashes as soft as the photo (its skin has the photo's grain)
        lid, lash = (cv2.GaussianBlur(alpha, (0, 0), layers.softness) for alpha in (lid, lash))
    out = pixels[part]
    out += (colour - out) * over_channels(lid)
    out += (layers.lash_rgb[eye] - out) * over_channels(lash)


def _corner_lashes_flipped(
    darker: np.ndarray,
    at: np.ndarray,
    lid: np.ndarray,
    lash: np.ndarray,
    outward: np.ndarray,
    y_upper: np.ndarray,
    edge: np.ndarray,
    profile: np.ndarray,
    band: float,
    blink: float,
    lash_alpha: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The lid's and the lash line's opacity with the photo's lashes at the outer corner, which sweep up and out
    past it, turned down with the closing lid: covered where they were (`darker`: how dark they are against the
    grown skin), and as dark in the lash line (`profile`: its shape across) at their place along the lid, the
    darkest of them up to `band` px above its line. Left where they were under a lid that covers only partly past
    the corner, they were a dark tuft above the lash line's end."""
    near = np.clip((outward - FLIP_FROM) / (1 - FLIP_FROM), 0, 1) * float(_smoothstep(blink))
    # x contiguous once: OpenCV copies a strided map on every call of the loop below
    x, y = np.ascontiguousarray(at[..., 0]), at[..., 1]
    here = cv2.remap(darker, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    standing = np.zeros_like(here)
    for height in np.linspace(0.0, band, FLIP_SAMPLES):
        above = (y_upper - height).astype(np.float32)
        standing = np.maximum(standing, cv2.remap(darker, x, above, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT))
    cover = np.clip(here / FLIP_DARK, 0, 1) * np.clip(edge - y + 0.5, 0, 1)
    lying = lash_alpha * np.clip(standing / FLIP_DARK, 0, 1) * profile
    return np.maximum(lid, near * cover), np.maximum(lash, near * lying)


def _lash_alpha(reach: np.ndarray, softness: float, alpha: float) -> np.ndarray:
    """The lash line's opacity before its blur to the photo's `softness` (px): as dark after the blur as on a photo
    SHARP_SOFTNESS soft, as far as an opaque line allows (a line `reach` px wide keeps reach / sqrt(reach^2 +
    2 softness^2) of its darkness). On a soft photo (a small face enlarged) the closed lid's lash line was paler than
    the fold above it, and the evaluator's eye model read a squint's closed eye as open."""
    kept = np.sqrt((reach**2 + 2 * SHARP_SOFTNESS**2) / (reach**2 + 2 * max(softness, SHARP_SOFTNESS) ** 2))
    return np.minimum(alpha / kept, 1.0)


def _arch(along: np.ndarray) -> np.ndarray:
    """A closed lid's bow over `along` (0 .. 1 from the inner to the outer corner): 0 at the corners, 1 midway."""
    return np.clip(1 - (2 * along - 1) ** 2, 0, 1)


def _along(curve: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The curve's y at each x, flat beyond its ends."""
    order = np.argsort(curve[:, 0])
    return np.interp(x, curve[order, 0], curve[order, 1]).astype(np.float32)


def _smoothstep(t: np.ndarray | float) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)
