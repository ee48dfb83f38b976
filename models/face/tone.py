"""Whether a photo is black and white, toned (sepia, cool) or a faintly tinted scan of one, and its tint.

In such a photo every pixel is its luma times one tint: the spread of the face's pixels off that (`tint_spread`)
is a few levels of JPEG noise, where a colour photo's lips, cheeks, eyes and hair are each their own colour. The
face (inside its jaw and brows) is averaged down to TONE_SIZE px a side first, which averages JPEG's noise and its
halved chroma away. Measured over the 80 faces of the gallery and the held-out sets, the spread's 90th percentile,
as a share of the face's mean luma: colour photos 9.6 % (a held-out face's faint colours; the small astronaut
10.1 %, a desaturated held-out face 10.4 %) and up, most over 12 %; a held-out cool-toned scan 1.4 %; grey photos
(the gallery's grace_gray and cameraman, two held-out ones) tinted sepia (luma times (1.12, 0.97, 0.78)), cool
(0.95, 0.99, 1.12) and strong sepia (1.25, 0.95, 0.6) 0.1-1.6 %, saved as JPEG at quality 80 up to 4.1 %, at
quality 60 up to 5.6 % (cameraman, strong sepia). TONED lies between.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.face.frame import BROWS, JAW

LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # RGB to grey (BT.601)
FACE_OUTLINE = JAW + BROWS[0] + BROWS[1]
TONE_SIZE = 64
TONED = 0.07  # of the face's mean luma: the 90th percentile of its pixels' spread off luma times the tint


def over_channels(factor: np.ndarray) -> np.ndarray:
    """The (h, w) `factor` repeated over three channels, (h, w, 3) contiguous, of its own dtype: the same products as a
    broadcast (h, w, 1), whose inner loop of 3 NumPy runs several times slower."""
    return cv2.merge([factor, factor, factor])


def colour_spread(rgb: np.ndarray) -> float:
    """How coloured `rgb` (3,) is: the spread of its log over R, G and B (0 for grey)."""
    return float(np.ptp(np.log(np.maximum(np.asarray(rgb, np.float32), 1.0))))


def at_most_as_coloured(log_colour: np.ndarray, most: float) -> np.ndarray:
    """A colour's log over R, G and B (`log_colour`, (3,)) scaled towards grey until it spreads at most `most`."""
    spread = float(np.ptp(log_colour))
    return (log_colour * min(1.0, most / spread) if spread > 0 else log_colour).astype(np.float32)


def photo_tint(image: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """The RGB a grey level is multiplied by in the black-and-white or toned RGB `image` (its face's mean colour
    over its mean luma; exactly ones in a grey photo), or None in a colour photo."""
    tint, spread = tint_spread(image, points)
    return tint if spread <= TONED else None


def tint_spread(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, float]:
    """The face's mean tint (its mean colour over its mean luma), and the 90th percentile of its pixels' spread off
    their luma times that tint (the largest channel's), as a share of its mean luma."""
    outline = points[FACE_OUTLINE]
    x0, y0 = np.maximum(np.floor(outline.min(0)), 0).astype(int)
    x1, y1 = np.ceil(outline.max(0)).astype(int) + 1
    box = image[y0:y1, x0:x1].astype(np.float32)
    if box.shape[0] < 2 or box.shape[1] < 2:
        return np.ones(3, np.float32), float("inf")
    small = cv2.resize(box, (TONE_SIZE, TONE_SIZE), interpolation=cv2.INTER_AREA)
    scale = np.array([TONE_SIZE / box.shape[1], TONE_SIZE / box.shape[0]], np.float32)
    mask = np.zeros((TONE_SIZE, TONE_SIZE), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round((outline - [x0, y0]) * scale).astype(np.int32)), 1)
    rgb = small[mask > 0]
    if (rgb == rgb[:, :1]).all():  # black and white: no tint
        return np.ones(3, np.float32), 0.0
    luma = rgb @ LUMA
    mean_luma = max(float(luma.mean()), 1.0)
    tint = (rgb.mean(0) / mean_luma).astype(np.float32)
    spread = np.abs(rgb - luma[:, None] * tint).max(1)
    return tint, float(np.percentile(spread, 90)) / mean_luma
