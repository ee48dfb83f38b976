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

from models.face.analysis import INNER_GAPS

OPEN_GAP = 0.45  # inner-lip gap at jaw_open = 1, in mouth widths
MID_BOOST = 1.0  # extra opening at mid jaw values (speech rarely drives the jaw past 0.5); none at 0 and 1
EYE_GAPS = ((37, 41), (38, 40), (43, 47), (44, 46))
LOWER_LID_RISE = 0.15  # of the eye's opening, at blink = 1
UPPER_LIP = [49, 50, 51, 52, 53, 61, 62, 63]
LOWER_LIP = [55, 56, 57, 58, 59, 65, 66, 67]
CORNERS = [48, 54, 60, 64]
BESIDE_CORNERS = [49, 53, 55, 59, 61, 63, 65, 67]
MOUTH = list(range(48, 68))
# How far each landmark stands out of the face plane, in face widths: turning the head shifts these more.
DEPTH = np.array(
    [0.0] * 17
    + [0.06] * 10
    + [0.12, 0.15, 0.18, 0.22, 0.16, 0.17, 0.18, 0.17, 0.16]
    + [0.05] * 12
    + [0.12] * 20,
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
)


@dataclass
class Rig:
    bases: np.ndarray  # (len(BASES), N, 2) float32
    pivot: np.ndarray  # (2,) the head turns about the neck
    open_px: float  # inner gap at jaw_open = 1
    photo_gap: float  # the photo's own inner gap
    size: int

    def coefficients(self, c: dict[str, float]) -> np.ndarray:
        """Weights of BASES for one frame of controls `c` (channel name -> value)."""
        press = _clip(c.get("lip_press", 0.0), 0, 1)
        teeth = _clip(c.get("lip_teeth", 0.0), 0, 1)
        jaw = _clip(c.get("jaw_open", 0.0), 0, 1.2)
        jaw += MID_BOOST * jaw**2 * max(1 - jaw, 0.0)
        gap = jaw * (1 - press) * (1 - 0.8 * teeth) * self.open_px
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
                _clip(c.get("upper_lip", 0.0), 0, 1) * (1 - press),
                max(smile, 0.0),
                max(-smile, 0.0),
                max(brow, 0.0),
                max(-brow, 0.0),
                _clip(c.get("blink", 0.0), 0, 1),
                np.sin(np.radians(c.get("head_yaw", 0.0))),
                np.sin(np.radians(c.get("head_pitch", 0.0))),
            ],
            np.float32,
        )

    def head_affine(self, c: dict[str, float]) -> np.ndarray:
        """2x3 matrix taking face-frame pixels to output pixels: roll about the neck, then sway."""
        matrix = cv2.getRotationMatrix2D(
            (float(self.pivot[0]), float(self.pivot[1])), -c.get("head_roll", 0.0), 1.0
        )
        # Turning also carries the whole head a little (the neck is behind the face).
        matrix[0, 2] += (
            c.get("head_dx", 0.0) + 0.25 * self.size * np.sin(np.radians(c.get("head_yaw", 0.0))) * 0.3
        )
        matrix[1, 2] += (
            c.get("head_dy", 0.0) + 0.25 * self.size * np.sin(np.radians(c.get("head_pitch", 0.0))) * 0.3
        )
        return matrix.astype(np.float32)


def _clip(x: float, lo: float, hi: float) -> float:
    return float(min(max(x, lo), hi))


def build_rig(points: np.ndarray, n_vertices: int, size: int) -> Rig:
    height = float(np.linalg.norm(points[8] - points[27]))
    down = (points[8] - points[27]) / height
    right = np.array([-down[1], down[0]], np.float32)
    width = float(np.linalg.norm(points[54] - points[48]))
    face = float(np.linalg.norm(points[16] - points[0]))
    centre = points[MOUTH].mean(0)
    along = (points - centre) @ right / (width / 2)  # -1 .. 1 from corner to corner

    def shape(moves: dict[int, tuple[float, float]] | None = None) -> np.ndarray:
        out = np.zeros((n_vertices, 2), np.float32)
        for i, (u, v) in (moves or {}).items():
            out[i] += u * right + v * down
        return out

    close = shape()
    for a, b in INNER_GAPS:  # meet in the middle; the outer lips follow their inner edge
        gap = float((points[b] - points[a]) @ down)
        close[a] += 0.5 * gap * down
        close[b] -= 0.5 * gap * down
    mean_gap = float(np.mean([(points[b] - points[a]) @ down for a, b in INNER_GAPS]))
    for i in (55, 56, 57, 58, 59):
        close[i] -= 0.45 * mean_gap * down
    for i in (50, 51, 52):
        close[i] += 0.3 * mean_gap * down
    for i, w in ((7, 0.4), (8, 0.45), (9, 0.4), (6, 0.25), (10, 0.25)):
        close[i] -= w * mean_gap * down

    # One pixel of inner-lip gap: the jaw rotates down, the lower lip rides on it, the corners follow partly.
    jaw = {
        66: 1.0,
        65: 0.82,
        67: 0.82,
        57: 1.0,
        56: 0.92,
        58: 0.92,
        55: 0.7,
        59: 0.7,
        60: 0.15,
        64: 0.15,
        48: 0.12,
        54: 0.12,
        8: 1.05,
        7: 0.95,
        9: 0.95,
        6: 0.75,
        10: 0.75,
        5: 0.5,
        11: 0.5,
        4: 0.25,
        12: 0.25,
        3: 0.07,
        13: 0.07,
        62: -0.04,
        61: -0.03,
        63: -0.03,
        51: -0.03,
    }
    opening = shape({i: (0.0, w) for i, w in jaw.items()})
    for i in CORNERS:  # an open mouth narrows a little
        opening[i] -= 0.08 * np.sign(along[i]) * right

    width_shape = shape({i: (0.14 * width / 2 * along[i], 0.0) for i in MOUTH})
    round_shape = shape({i: (-0.24 * width / 2 * along[i], 0.0) for i in MOUTH})
    for i in (50, 51, 52):
        round_shape[i] -= 0.05 * width * down
    for i in (56, 57, 58):
        round_shape[i] += 0.05 * width * down
    # f/v: the upper lip lifts off the teeth and the lower lip rises under them
    teeth = shape({i: (0.0, -0.07 * width) for i in UPPER_LIP} | {i: (0.0, -0.03 * width) for i in LOWER_LIP})
    upper = shape({i: (0.0, -0.08 * width) for i in UPPER_LIP})
    smile = shape(
        {i: (0.10 * width * np.sign(along[i]), -0.10 * width) for i in CORNERS}
        | {i: (0.05 * width * np.sign(along[i]), -0.05 * width) for i in BESIDE_CORNERS}
    )
    frown = shape(
        {i: (0.0, 0.07 * width) for i in CORNERS} | {i: (0.0, 0.035 * width) for i in BESIDE_CORNERS}
    )
    brow = shape({i: (0.0, -0.07 * height) for i in range(17, 27)})
    furrow = shape(
        {i: (0.0, 0.03 * height) for i in range(17, 27)}
        | {i: (0.03 * height * (1 if i == 21 else -1), 0.03 * height) for i in (21, 22)}
    )
    blink = shape()
    for a, b in EYE_GAPS:  # the lower lid rises a little; the upper lid is drawn over the eye (eyes.py)
        blink[b] -= LOWER_LID_RISE * (points[b] - points[a])
    depth = np.zeros(n_vertices, np.float32)
    depth[:68] = DEPTH
    yaw = np.outer(depth * face, right).astype(np.float32)
    pitch = np.outer(depth * face, down).astype(np.float32)
    bases = np.stack(
        [
            close,
            opening,
            width_shape,
            round_shape,
            teeth,
            upper,
            smile,
            frown,
            brow,
            furrow,
            blink,
            yaw,
            pitch,
        ]
    ).astype(np.float32)
    pivot = points[8] + down * 0.35 * height
    return Rig(
        bases=bases,
        pivot=pivot.astype(np.float32),
        open_px=OPEN_GAP * width,
        photo_gap=max(mean_gap, 0.0),
        size=size,
    )
