"""The puppet's rig: control values -> displacement of every mesh vertex, and the head's global affine.

Each expression is a basis shape (one 2D offset per vertex, in pixels, for one unit of the expression), built
once per face in face-relative units; a frame is a weighted sum of the bases. Axes follow the face: `down`
runs from the nose bridge to the chin, `right` is perpendicular to it, so a tilted photo still opens its mouth
along the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.face.frame import BROWS, CHIN, EYE_GAPS, INNER_GAPS, MOUTH, MOUTH_SLIT, FaceFrame

OPEN_GAP = 0.38  # inner-lip gap at jaw_open = 1, in mouth widths
REST_PARTED = 0.42  # a photo smiling with its teeth rests with its lips parted by this share of its own gap...
REST_PARTED_MAX = 0.08  # ... at most this many mouth widths
SPEAKING_PARTED = 1.0  # in speech (the `speaking` control) it rests parted by this share of its gap...
SPEAKING_PARTED_MAX = 0.25  # ... at most this many mouth widths
MID_BOOST = 1.0  # extra opening at mid jaw values (speech rarely drives the jaw past 0.5); none at 0 and 1
LOWER_LID_RISE = 0.0  # of the eye's opening, at blink = 1: the lower lid hardly moves in a blink
CORNERS = [48, 54, 60, 64]
BESIDE_CORNERS = [49, 53, 55, 59, 61, 63, 65, 67]
# The expressions' shapes. Weights per landmark; distances in mouth widths unless said otherwise.
# Closing the photo's own opening: the inner lips meet in the middle, but the upper one comes down no further than
# CLOSE_UPPER_REACH mouth widths; the lower one (and the chin) rises the rest, as the jaw opened it. Met in the
# middle, photos opened by the rig to jaw_open 0.6 and taken as photos (Grace Hopper, two_people, the astronaut)
# pressed their lips at 0.099, 0.104, 0.068 (dlib's aperture): the thin upper lip was drawn down over half the
# opening into a thick dark band read as a gap; now at 0.051, 0.062, 0.022 (at 0.09, Grace Hopper's 0.082). The
# gallery's own openings close as before: at most 0.081 of a mouth width either side (astronaut_at_edge's smile,
# whose upper lip now stops 0.1 px short).
CLOSE_UPPER_REACH = 0.08
# The outer lips and the chin follow (per pixel their own inner lip moves; the upper lip's landmarks beside the
# corners half as far: left out, they stood above their neighbours once the lip rose).
CLOSE_FOLLOW_UPPER = {50: 0.6, 51: 0.6, 52: 0.6, 49: 0.3, 53: 0.3}
CLOSE_FOLLOW_LOWER = {55: -0.9, 56: -0.9, 57: -0.9, 58: -0.9, 59: -0.9, 7: -0.8, 8: -0.9, 9: -0.8, 6: -0.5, 10: -0.5}
# Opening by one pixel of inner-lip gap: the jaw rotates down, the lower lip rides on it, the corners follow a
# little, the upper lip lifts a hair.
# The lower lip's own landmarks drop along an ellipse's arc between its corners (LOWER_ARCS, `_arc`).
JAW_DROP = {60: 0.15, 64: 0.15, 48: 0.12, 54: 0.12}
JAW_DROP |= {8: 1.05, 7: 0.95, 9: 0.95, 6: 0.75, 10: 0.75, 5: 0.5, 11: 0.5, 4: 0.25, 12: 0.25}
JAW_DROP |= {3: 0.07, 13: 0.07, 62: -0.04, 61: -0.03, 63: -0.03, 51: -0.03}
# Each lip's outer and inner landmark chains with their corners: a lip moves along an arc between its corners.
UPPER_ARCS = (((49, 50, 51, 52, 53), (48, 54)), ((61, 62, 63), (60, 64)))
LOWER_ARCS = (((55, 56, 57, 58, 59), (48, 54)), ((65, 66, 67), (60, 64)))
UPPER_LIP = {i for chain, _ in UPPER_ARCS for i in chain}
# A turned face (its jaw line held still: its jaw landmarks may lie on the background) parts its lips instead: the
# upper lip rises by this share of the gap, the lower lip drops by the rest, and the chin's own landmarks (on the
# face) follow half as far. With the chin still, the lower lip squeezed the skin above it; following a third as
# far, the lower lip's edge on the cameraman's profile pulled specks of the background in from jaw_open 1.
TURNED_UPPER = 0.25
TURNED_CHIN = {8: 0.5, 7: 0.4, 9: 0.45, 6: 0.2}
# Its mouth's width in the image is foreshortened (the cameraman's, turned ~53 degrees: 0.25 of his nose-to-chin
# height; frontal photos 0.48 .. 0.60), the opening's height is not: it opens as far as a mouth this share of its
# nose-to-chin height wide (or its own width, if wider) opens facing the camera. At 0.45, his open vowels were
# still slits filled with teeth; at 0.55, specks of the background came in at his profile's edge from jaw_open 0.8.
# So does a face whose jaw moves but that is turned past FORESHORTENED_YAW (its pose, degrees; cos 30 = 0.87): a
# group photo's man turned 40 degrees, mouth 0.40 of his height, opened to 0.38 of that width read (face mesh, whose
# widths are 3-D) at 0.17 where frontal faces read 0.23-0.26. Within it the image's width is the mouth's, nearly.
TURNED_MOUTH = 0.5
FORESHORTENED_YAW = 30.0
# Pressed (p/b/m), a turned face's lips that its photo shows apart flatten against each other: seen from the side,
# an open mouth's lower lip hangs forward and down, and pressed it is pushed back flat under the upper one. Each lip's
# red narrows towards the line where they meet by PRESS_SQUEEZE of its height with the lips just meeting (beside the
# corners by PRESS_BESIDE_CORNERS of that: at full share, a held-out face's lower lip beside its far corner rose past
# the corner and sampled a dark speck). Closed by the rig, a photo's open lips kept their full height (the outer
# contours follow the inner lips only partly), and the face mesh reads a mouth's closure by its lips' extent: that
# face, turned 55 degrees with its mouth open, read its pressed frames at 0.047-0.050 of its mouth width, its open
# vowels at 0.22; now 0.029. Lips the photo shows together keep their height (squeezed by a third of it, the
# cameraman's lower lip, on his profile's edge, pulled the dark below his chin up into it), and so do lips facing the
# camera: the astronaut's squeezed to half read as another face (dlib's identity distance up to 0.43, against 0.33)
# and, smiling, open.
PRESS_SQUEEZE = 0.5
PRESS_BESIDE_CORNERS = 0.5
# The skin under the lower lip follows it up (the chin's own landmarks, by these shares of its middle's move): the
# held-out face's pressed frames read 0.033 of its mouth width without, 0.029 with.
PRESS_CHIN = {8: 0.5, 7: 0.4, 9: 0.4}
OPEN_NARROWING = 0.08  # px the corners move in per px of gap
SPREAD = 0.14  # i/e: the lips widen by this share of the half width
PURSE = 0.24  # o/u/w: they narrow by this share...
ROUND_LIPS = {50: -0.05, 51: -0.05, 52: -0.05, 56: 0.05, 57: 0.05, 58: 0.05}  # ...and push out (up and down)
# f/v: the lower lip under the upper teeth; both lips rise, most in the middle (a parabola between the corners)
LABIODENTAL = (-0.07, -0.03)  # upper lip, lower lip
# The upper lip, in the middle, raised with the opening; the f/v shape places it by itself (the raise fades out as
# lip_teeth comes in): stacked on it, the lip rose over a tall band of teeth, a snarl that a held-out face's "of" read
# as another face (dlib's identity distance 0.383 against 0.31 at its open vowels; now 0.338)
UPPER_RAISE = 0.08
SMILE = dict.fromkeys(CORNERS, (0.10, -0.10)) | dict.fromkeys(BESIDE_CORNERS, (0.05, -0.05))  # (out, down)
FROWN = dict.fromkeys(CORNERS, 0.07) | dict.fromkeys(BESIDE_CORNERS, 0.035)
BROW_RAISE = 0.07  # face heights
BROW_LOWER = 0.03  # face heights
FURROW_INNER = {21: 0.03, 22: -0.03}  # face heights, across
PIVOT_BELOW_CHIN = 0.35  # face heights: the head turns about the neck
# How far each landmark stands out of the face plane, in face widths: turning the head shifts these more.
DEPTH = np.array(
    [0.0] * 17 + [0.06] * 10 + [0.12, 0.15, 0.18, 0.22, 0.16, 0.17, 0.18, 0.17, 0.16] + [0.05] * 12 + [0.12] * 20,
    np.float32,
)
BASES = (
    "close",
    "open",
    "width",
    "round",
    "teeth",
    "upper",
    "smile",
    "frown",
    "brow",
    "furrow",
    "blink",
    "yaw",
    "pitch",
    "press",
)


@dataclass
class Rig:
    bases: np.ndarray  # (len(BASES), N, 2) float32
    pivot: np.ndarray  # (2,) the head turns about the neck
    open_px: float  # inner gap at jaw_open = 1
    photo_gap: float  # the photo's own inner gap
    size: int
    rest_gap: float = 0.0  # inner gap with the mouth at rest (jaw_open 0, no press) in silence...
    speaking_gap: float = 0.0  # ... and in speech, between words (`speaking` 1)

    def coefficients(self, c: dict[str, float]) -> np.ndarray:
        """Weights of BASES for one frame of controls `c` (channel name -> value)."""
        press = _clip(c.get("lip_press", 0.0), 0, 1)
        teeth = _clip(c.get("lip_teeth", 0.0), 0, 1)
        jaw = _clip(c.get("jaw_open", 0.0), 0, 1.2)
        jaw += MID_BOOST * jaw**2 * max(1 - jaw, 0.0)
        speaking = _clip(c.get("speaking", 0.0), 0, 1)
        rest = self.rest_gap + speaking * (self.speaking_gap - self.rest_gap)
        gap = max(jaw * self.open_px, rest) * (1 - press) * (1 - 0.8 * teeth)
        # The photo's own opening closes as the wanted gap shrinks below it, and opens further beyond it.
        closing = max(0.0, 1 - gap / self.photo_gap) if self.photo_gap > 0 else 1.0
        smile = _clip(c.get("smile", 0.0), -1, 1)
        brow = _clip(c.get("brow_raise", 0.0), -1, 1)
        return np.array(
            [
                closing,
                max(0.0, gap - self.photo_gap),
                _clip(c.get("lip_width", 0.0), -1, 1),
                _clip(c.get("lip_round", 0.0), 0, 1),
                teeth * (1 - press),
                _clip(c.get("upper_lip", 0.0), 0, 1) * (1 - press) * (1 - teeth),
                max(smile, 0.0),
                max(-smile, 0.0),
                max(brow, 0.0),
                max(-brow, 0.0),
                _clip(c.get("blink", 0.0), 0, 1),
                np.sin(np.radians(c.get("head_yaw", 0.0))),
                np.sin(np.radians(c.get("head_pitch", 0.0))),
                press,
            ],
            np.float32,
        )

    def head_affine(self, c: dict[str, float]) -> np.ndarray:
        """2x3 matrix taking face-frame pixels to output pixels: roll about the neck, then sway."""
        matrix = cv2.getRotationMatrix2D((float(self.pivot[0]), float(self.pivot[1])), -c.get("head_roll", 0.0), 1.0)
        # Turning also carries the whole head a little (the neck is behind the face).
        matrix[0, 2] += c.get("head_dx", 0.0) + 0.25 * self.size * np.sin(np.radians(c.get("head_yaw", 0.0))) * 0.3
        matrix[1, 2] += c.get("head_dy", 0.0) + 0.25 * self.size * np.sin(np.radians(c.get("head_pitch", 0.0))) * 0.3
        return matrix.astype(np.float32)


def _clip(x: float, lo: float, hi: float) -> float:
    return float(min(max(x, lo), hi))


def _arc(
    along: np.ndarray, arcs: tuple[tuple[tuple[int, ...], tuple[int, int]], ...], power: float
) -> dict[int, float]:
    """Weights of the lip landmarks in `arcs` (chains and their corners), 1 in the middle and 0 at the corners:
    (1 - (along / corner)^2) ** power, along the lip from its middle to the corner on the landmark's side.
    Power 0.5 is an ellipse: an opening's lower lip drops round, where fixed weights (0.82 at the inner landmarks
    beside the middle, which dlib puts near it on a smile) bent it into a V. Power 1 raises the upper lip as a
    parabola: its landmarks beside the corners (which stay put) rise less and fold no skin over the corners."""
    weights = {}
    for chain, corners in arcs:
        for i in chain:
            corner = max((along[c] for c in corners), key=lambda a: a * along[i])  # the corner on its side
            share = 1 - (along[i] / corner) ** 2 if abs(corner) > 1e-3 else 1.0
            weights[i] = float(max(share, 0.0) ** power)
    return weights


def _lip_heights(closed: np.ndarray, along: np.ndarray, down: np.ndarray, outer, inner) -> np.ndarray:
    """Each outer lip landmark's distance along `down` to its lip's inner edge at the same place across the mouth,
    with the lips `closed` (the landmarks once the photo's opening is closed)."""
    order = np.argsort(along[list(inner)])
    edge = np.interp(along[list(outer)], along[list(inner)][order], (closed[list(inner)] @ down)[order])
    return np.abs(edge - closed[list(outer)] @ down)


def _press(
    closed: np.ndarray,
    along: np.ndarray,
    down: np.ndarray,
    n_vertices: int,
    chin_follows: bool,
) -> np.ndarray:
    """The lips pressed together from just meeting: each outer lip contour moves towards the line where they meet by
    PRESS_SQUEEZE of its lip's height there; with `chin_follows`, the chin follows the lower lip (PRESS_CHIN)."""
    out = np.zeros((n_vertices, 2), np.float32)
    outer_lips = (UPPER_ARCS[0][0], LOWER_ARCS[0][0])  # each lip's outer chain; MOUTH_SLIT: their inner edges
    for outer, inner, sign in zip(outer_lips, MOUTH_SLIT, (1, -1), strict=True):
        heights = _lip_heights(closed, along, down, outer, inner)
        for i, height in zip(outer, heights, strict=True):
            share = PRESS_BESIDE_CORNERS if i in BESIDE_CORNERS else 1.0
            out[i] += sign * share * PRESS_SQUEEZE * float(height) * down
    if chin_follows:
        for i, share in PRESS_CHIN.items():
            out[i] += share * out[57]
    return out


def build_rig(
    points: np.ndarray,
    frame: FaceFrame,
    n_vertices: int,
    size: int,
    jaw_moves: bool = True,
    chin_closes: bool = True,
    rests_parted: bool = False,
    yaw_deg: float = 0.0,
    lips_apart: bool = False,
) -> Rig:
    """The rig of one face; with `jaw_moves` False (a turned face, whose jaw landmarks may lie on the background)
    the mouth opens with the lips alone, the upper rising a little and the lower dropping (TURNED_UPPER), as far as a
    frontal face of its height opens (TURNED_MOUTH: its mouth's width in the image is foreshortened; its mouth
    landmarks end where its lips meet, models/face/analysis._mouth_to_lip_line, so the opening does not reach into
    the cheek); its jaw line stays put, its chin follows a little (TURNED_CHIN). With `chin_closes` False, closing the
    photo's own opening moves the lips alone: lifting the chin too is right for a photo, but in a video frame it
    drags the collar below the jaw up over the chin (models/render/dub.py). With `rests_parted` (a photo smiling
    with its teeth) the mouth at rest keeps part of the photo's own opening: a smile that shows the teeth relaxes
    with the lips apart; shut, it reads as another face (dlib's identity distance 0.27 against 0.08 at the photo's
    gap); in speech (the `speaking` control) between words it rests with its lips apart as in the photo, up to
    SPEAKING_PARTED_MAX. A face turned past FORESHORTENED_YAW (`yaw_deg`) opens as far as a turned one
    (TURNED_MOUTH). With `lips_apart` (a turned photo that shows its lips apart) its lips flatten against each other
    pressed (PRESS_SQUEEZE)."""
    down, right, height, width = frame.down, frame.right, frame.height, frame.mouth_width
    along = (points - frame.mouth_centre) @ right / (width / 2)  # -1 .. 1 from corner to corner
    side = np.sign(along)

    def shape(moves: dict[int, tuple[float, float]] | None = None) -> np.ndarray:
        """Offsets of the vertices in `moves` (index -> (across, down), in pixels), zero elsewhere."""
        out = np.zeros((n_vertices, 2), np.float32)
        for i, (u, v) in (moves or {}).items():
            out[i] += u * right + v * down
        return out

    def scaled(weights: dict[int, float], across: float, along_down: float) -> np.ndarray:
        return shape({i: (across * w, along_down * w) for i, w in weights.items()})

    close = shape()
    gaps = np.array([float((points[b] - points[a]) @ down) for a, b in INNER_GAPS])
    mean_gap = float(np.mean(gaps))
    uppers = np.minimum(0.5 * gaps, CLOSE_UPPER_REACH * width)
    for (a, b), gap, upper_moves in zip(INNER_GAPS, gaps, uppers, strict=True):
        close[a] += upper_moves * down
        close[b] -= (gap - upper_moves) * down
    follow = CLOSE_FOLLOW_LOWER if chin_closes else {i: w for i, w in CLOSE_FOLLOW_LOWER.items() if i >= 17}
    close += scaled(CLOSE_FOLLOW_UPPER, 0.0, float(np.mean(uppers)))
    close += scaled(follow, 0.0, float(np.mean(gaps - uppers)))

    closed = points + close[: len(points)]
    press = _press(closed, along, down, n_vertices, chin_closes) if lips_apart else shape()

    drop = _arc(along, LOWER_ARCS, 0.5) | JAW_DROP
    if not jaw_moves:
        lips = {i: w * (1 - TURNED_UPPER) for i, w in drop.items() if i >= 17 and i not in UPPER_LIP}
        raised = {i: -TURNED_UPPER * w for i, w in _arc(along, UPPER_ARCS, 1.0).items()}
        drop = lips | raised | TURNED_CHIN
    opening = scaled(drop, 0.0, 1.0)  # one pixel of inner-lip gap
    for i in CORNERS:  # an open mouth narrows a little
        opening[i] -= OPEN_NARROWING * side[i] * right

    width_shape = shape({i: (SPREAD * width / 2 * along[i], 0.0) for i in MOUTH})
    round_shape = shape({i: (-PURSE * width / 2 * along[i], 0.0) for i in MOUTH})
    round_shape += scaled(ROUND_LIPS, 0.0, width)
    raised = _arc(along, UPPER_ARCS, 1.0)
    teeth = scaled({i: LABIODENTAL[0] * w for i, w in raised.items()}, 0.0, width)
    teeth += scaled({i: LABIODENTAL[1] * w for i, w in _arc(along, LOWER_ARCS, 1.0).items()}, 0.0, width)
    upper = scaled({i: -UPPER_RAISE * w for i, w in raised.items()}, 0.0, width)
    smile = shape({i: (SMILE[i][0] * width * side[i], SMILE[i][1] * width) for i in SMILE})
    frown = scaled(FROWN, 0.0, width)
    brow = scaled(dict.fromkeys(BROWS[0] + BROWS[1], -BROW_RAISE), 0.0, height)
    furrow = scaled(dict.fromkeys(BROWS[0] + BROWS[1], BROW_LOWER), 0.0, height)
    for i in FURROW_INNER:  # the inner ends of the brows draw together
        furrow[i] += FURROW_INNER[i] * height * right
    blink = shape()
    for a, b in EYE_GAPS:  # the lower lid rises a little; the upper lid is drawn over the eye (eyes.py)
        blink[b] -= LOWER_LID_RISE * (points[b] - points[a])
    depth = np.zeros(n_vertices, np.float32)
    depth[:68] = DEPTH
    yaw = np.outer(depth * frame.width, right).astype(np.float32)
    pitch = np.outer(depth * frame.width, down).astype(np.float32)
    shapes = {
        "close": close,
        "open": opening,
        "width": width_shape,
        "round": round_shape,
        "teeth": teeth,
        "upper": upper,
        "smile": smile,
        "frown": frown,
        "brow": brow,
        "furrow": furrow,
        "blink": blink,
        "yaw": yaw,
        "pitch": pitch,
        "press": press,
    }
    pivot = points[CHIN] + down * PIVOT_BELOW_CHIN * height
    foreshortened = not jaw_moves or abs(yaw_deg) > FORESHORTENED_YAW  # its mouth's width in the image is not its own
    photo_gap = max(mean_gap, 0.0)

    def parted(share: float, most: float) -> float:  # the rest's gap: `share` of the photo's, at most `most` widths
        return min(share * photo_gap, most * width) if rests_parted else 0.0

    return Rig(
        bases=np.stack([shapes[name] for name in BASES]).astype(np.float32),
        pivot=pivot.astype(np.float32),
        open_px=OPEN_GAP * (max(width, TURNED_MOUTH * height) if foreshortened else width),
        photo_gap=photo_gap,
        size=size,
        rest_gap=parted(REST_PARTED, REST_PARTED_MAX),
        speaking_gap=parted(SPEAKING_PARTED, SPEAKING_PARTED_MAX),
    )
