"""How soft the photo already is around a part of the face: the blur a crisp drawing over it (a closing lid, the
teeth and the inside of an opened mouth) needs to sit in the photo rather than read as pasted on. A small face
enlarged to the frame is soft; a sharp photo needs none.
"""

from __future__ import annotations

import cv2
import numpy as np

SOFTNESS_PROBE = 2.0  # px: the blur that tells how soft the photo already is
MIN_SOFTNESS = 0.3  # px: less blur than this is not drawn
# px: the frame size at which the closing lids (models/render/eyes.py) tell a soft photo (a small face enlarged,
# whose colour and lashes bleed far past the eye for its size) from a sharp one. The same photo framed at 1024 px is
# enlarged twice as much and reads over twice as soft in px (the astronaut's eyes 1.04 -> 2.57), though its blur is
# no wider against her eye: taken for a soft photo's, her closed lids were grey, blurred ovals at 1024. (Blurs that
# match the photo's softness where they are drawn, the lid's, the chin's edge, the teeth's, stay in px.)
REFERENCE_SIZE = 512


def photo_softness(region: np.ndarray, drawn: float) -> float:
    """How much a drawing whose edges are already `drawn` px soft must be blurred (Gaussian sigma, px) to be as
    soft as the photo's grey `region` it lies in: an edge already blurred by b keeps b / sqrt(b^2 + s^2) of its
    steepest slope when blurred by s more. 0 where that is under MIN_SOFTNESS."""
    region = np.ascontiguousarray(region, np.float32)

    def steepest(grey: np.ndarray) -> float:
        slope = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
        return float(np.percentile(slope[2:-2, 2:-2], 99))

    kept = min(steepest(cv2.GaussianBlur(region, (0, 0), SOFTNESS_PROBE)) / max(steepest(region), 1e-6), 0.99)
    blur = SOFTNESS_PROBE * kept / np.sqrt(1 - kept**2)
    extra = float(np.sqrt(max(blur**2 - drawn**2, 0.0)))
    return extra if extra >= MIN_SOFTNESS else 0.0


def reference_softness(region: np.ndarray, drawn: float, size: int) -> float:
    """photo_softness of `region`, a part of a frame `size` px wide, as the same photo reads framed at REFERENCE_SIZE
    (the region shrunk so): what the thresholds between a soft photo and a sharp one are compared with, while the
    blur drawn stays the frame's own. Frames up to REFERENCE_SIZE read as they are (a smaller frame shrinks the photo,
    whose px are then no sharper than a pixel)."""
    if size <= REFERENCE_SIZE:
        return photo_softness(region, drawn)
    scale = REFERENCE_SIZE / size
    shrunk = cv2.resize(np.asarray(region, np.float32), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return photo_softness(shrunk, drawn)
