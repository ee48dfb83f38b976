"""FFHQ alignment for face restoration: 68 landmarks -> the 5 points GFPGAN was trained on -> a square crop,
and the restored crop pasted back with a soft edge (as facexlib's FaceRestoreHelper does)."""

from __future__ import annotations

import cv2
import numpy as np

# left eye, right eye, nose tip, left and right mouth corners (image left/right) on a 512x512 FFHQ face
FFHQ_TEMPLATE_512 = np.array(
    [
        [192.98138, 239.94708],
        [318.90277, 240.1936],
        [256.63416, 314.01935],
        [201.26117, 371.41043],
        [313.08905, 371.15118],
    ],
    dtype=np.float32,
)
BORDER_RGB = (132, 133, 135)  # facexlib's grey outside the photo


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """(5, 2) eye centres, nose tip and mouth corners from the 68-point (iBUG) landmarks."""
    return np.stack(
        [
            landmarks[36:42].mean(axis=0),
            landmarks[42:48].mean(axis=0),
            landmarks[30],
            landmarks[48],
            landmarks[54],
        ]
    ).astype(np.float32)


def align(image: np.ndarray, landmarks: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The face warped onto the FFHQ template at size x size, and the 2x3 image->crop matrix."""
    matrix = cv2.estimateAffinePartial2D(five_points(landmarks), FFHQ_TEMPLATE_512 * (size / 512), method=cv2.LMEDS)[0]
    crop = cv2.warpAffine(
        image,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=BORDER_RGB,
    )
    return crop, matrix


def paste_back(image: np.ndarray, crop: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """`image` with `crop` warped back through the inverse of `matrix`, blended over a feathered face mask."""
    h, w = image.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    restored = cv2.warpAffine(crop, inverse, (w, h), flags=cv2.INTER_LINEAR).astype(np.float32)
    mask = cv2.warpAffine(np.ones(crop.shape[:2], np.float32), inverse, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.erode(mask, np.ones((2, 2), np.uint8))  # drop the interpolated black rim
    edge = max(1, int(np.sqrt(mask.sum())) // 20)
    mask = cv2.erode(mask, np.ones((2 * edge, 2 * edge), np.uint8))
    mask = cv2.GaussianBlur(mask, (2 * edge + 1, 2 * edge + 1), 0)[..., None]
    out = mask * restored + (1 - mask) * image.astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
