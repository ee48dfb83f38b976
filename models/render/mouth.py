"""What a closed-mouth photo does not show: the inside of the mouth, as two layers in the photo's coordinates.

The upper layer (RGBA) hangs below the upper inner lip and moves with it: the upper teeth. The lower layer
(RGB) sits above the lower inner lip and moves with the jaw: lower teeth, tongue and the dark cavity behind.
Colours come from the face (lip colour for the cavity and tongue, skin brightness for the teeth) so the inside
is lit like the face. When the photo already shows teeth, its own teeth are used instead of synthetic ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.render.mesh import MOUTH

TEETH_RGB = np.array([236, 232, 220], np.float32)
# Tooth edges across the mouth, as fractions of the half mouth width from the centre (incisors,
# laterals, canines).
TOOTH_EDGES = np.array([0.0, 0.30, 0.54, 0.76, 0.95, 1.15])
UPPER_TEETH = 0.20  # visible height of the upper teeth, in mouth widths
LOWER_TEETH = 0.07


@dataclass
class MouthLayers:
    upper: np.ndarray  # (size, size, 4) float32 RGBA, RGB in 0..255
    lower: np.ndarray  # (size, size, 3) float32


def build_mouth(
    image: np.ndarray, points: np.ndarray, lip_rgb: np.ndarray, skin_rgb: np.ndarray, teeth_visible: bool
) -> MouthLayers:
    size = image.shape[0]
    upper_chain, lower_chain = (points[list(chain)] for chain in MOUTH)
    width = float(np.linalg.norm(points[54] - points[48]))
    centre_x = float(points[[60, 64]].mean(0)[0])
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    along = (xs - centre_x) / (width / 2)  # -1 .. 1 between the mouth corners
    y_upper = _curve(upper_chain, xs)
    y_lower = _curve(lower_chain, xs)

    light = float(np.mean(skin_rgb)) / 190.0
    teeth_rgb = np.clip(TEETH_RGB * (0.75 + 0.25 * light) * 0.92 + 0.08 * skin_rgb, 0, 255)
    side_shade = np.clip(1 - 0.4 * along**2, 0.3, 1)  # teeth and cavity recede into shadow at the sides
    gaps = _tooth_gaps(along)

    below_upper = (ys - y_upper) / (UPPER_TEETH * width)  # 0 at the upper inner lip, 1 at the teeth's edge
    upper_alpha = _band(below_upper, along, 1.0)
    upper_rgb = teeth_rgb * (side_shade * gaps * (0.8 + 0.2 * np.clip(below_upper * 3, 0, 1)))[..., None]

    above_lower = (y_lower - ys) / width  # 0 at the lower inner lip, growing upwards
    depth_shade = 1 - 0.6 * np.clip(above_lower / 0.45, 0, 1)  # the back of the mouth gets little light
    cavity = lip_rgb.astype(np.float32) * 0.32 * (side_shade * depth_shade)[..., None]
    tongue = np.clip(1 - ((along / 0.7) ** 2 + ((above_lower - 0.1) / 0.1) ** 2), 0, 1)
    tongue_rgb = lip_rgb.astype(np.float32) * 0.62 * (side_shade * depth_shade)[..., None]
    lower_rgb = cavity + np.sqrt(tongue)[..., None] * (tongue_rgb - cavity)
    lower_alpha = _band(above_lower / LOWER_TEETH, along, 0.6)
    lower_teeth = (
        teeth_rgb * (side_shade * gaps * (0.85 + 0.15 * np.clip(above_lower / LOWER_TEETH, 0, 1)))[..., None]
    )
    lower_rgb += lower_alpha[..., None] * (lower_teeth - lower_rgb)
    if teeth_visible:  # the photo's own teeth stay with the skull; synthetic ones only where the jaw uncovers
        upper_alpha = _own_teeth(image, points)
        upper_rgb = image.astype(np.float32)
    upper = np.dstack([upper_rgb, upper_alpha]).astype(np.float32)
    return MouthLayers(upper=upper, lower=lower_rgb.astype(np.float32))


def _curve(chain: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The y of a lip chain at every x, flat beyond its ends."""
    order = np.argsort(chain[:, 0])
    return np.interp(xs, chain[order, 0], chain[order, 1]).astype(np.float32)


def _band(depth: np.ndarray, along: np.ndarray, reach: float) -> np.ndarray:
    """Alpha of a teeth row: from just behind the lip to a bottom edge that curves up towards the corners."""
    edge = 1 - 0.35 * along**2
    inside = (depth > -0.3) & (depth < edge) & (np.abs(along) < reach)
    return cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 0.7)


def _tooth_gaps(along: np.ndarray) -> np.ndarray:
    """1 on a tooth, darker in the thin gaps between teeth."""
    distance = np.min(np.abs(np.abs(along)[..., None] - TOOTH_EDGES), axis=-1)
    return 1 - 0.18 * np.exp(-((distance / 0.02) ** 2))


def _own_teeth(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Alpha of the photo's own mouth inside (its teeth), feathered."""
    mask = np.zeros(image.shape[:2], np.float32)
    cv2.fillPoly(mask, [np.round(points[60:68] * 16).astype(np.int32)], 1.0, shift=4)
    return cv2.GaussianBlur(mask, (0, 0), 1.0)
