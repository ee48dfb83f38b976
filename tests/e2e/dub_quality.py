"""Measures of how a re-voiced frame looks next to its source frame, for the dubbing tests and for looking."""

from __future__ import annotations

import cv2
import numpy as np

from models.face.analysis import lip_colour
from models.face.frame import FaceFrame

JAW_BAND = (0.15, 0.08)  # mouth widths above and below the jaw line (landmarks 5..11)
DARKER = 40  # grey (8-bit Lab lightness) levels: this much darker than in the source is smear, or not lips


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def jaw_band(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Bool mask of a band along the chin's jaw line (the collar lies just below it)."""
    frame = FaceFrame.of(points)
    jaw = points[5:12]
    above, below = (
        jaw + sign * share * frame.mouth_width * frame.down for sign, share in zip((-1, 1), JAW_BAND, strict=True)
    )
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(np.concatenate([above, below[::-1]])).astype(np.int32)], 1)
    return mask.astype(bool)


def jaw_smear(source: np.ndarray, dubbed: np.ndarray, points: np.ndarray) -> float:
    """Share of the jaw band that the dubbing made much darker (the collar dragged up over the chin)."""
    band = jaw_band(points, source.shape)
    return float(((_luma(source) - _luma(dubbed))[band] > DARKER).mean())


def teeth_brightness(rgb: np.ndarray, points: np.ndarray) -> float:
    """The 95th percentile of brightness inside the outer lip line: the teeth, where the mouth shows them."""
    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points[48:60]).astype(np.int32)], 1)
    return float(np.percentile(_luma(rgb)[mask > 0], 95))


def dark_lip_share(source: np.ndarray, dubbed: np.ndarray, points: np.ndarray) -> float:
    """Share of the source's lip area (outer lip line) that is much darker than the source's lips in `dubbed`:
    where the new speech closes the mouth, that is mouth cavity or shadowed teeth left between the lips."""
    mask = np.zeros(source.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points[48:60]).astype(np.int32)], 1)
    lip = cv2.cvtColor(lip_colour(source, points).reshape(1, 1, 3), cv2.COLOR_RGB2LAB)[0, 0, 0].astype(np.float32)
    lightness = cv2.cvtColor(dubbed, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    return float((lightness[mask > 0] < lip - DARKER).mean())
