"""How soft the photo already is around a part of the face: the blur a crisp drawing over it (a closing lid, the
teeth and the inside of an opened mouth) needs to sit in the photo rather than read as pasted on. A small face
enlarged to the frame is soft; a sharp photo needs none.
"""

from __future__ import annotations

import cv2
import numpy as np

SOFTNESS_PROBE = 2.0  # px: the blur that tells how soft the photo already is
MIN_SOFTNESS = 0.3  # px: less blur than this is not drawn


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
