"""Where SadTalker looks in the photo and how its output goes back: the face crop (SadTalker's FFHQ-style
square from the eyes and mouth) and a feathered paste-back that leaves every pixel outside the face untouched."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class FaceCrop:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def size(self) -> tuple[int, int]:
        return self.x1 - self.x0, self.y1 - self.y0

    def cut(self, image: np.ndarray, side: int) -> np.ndarray:
        """The crop of `image`, resized to side x side (SadTalker's input)."""
        return cv2.resize(image[self.y0 : self.y1, self.x0 : self.x1], (side, side), interpolation=cv2.INTER_AREA)

    def landmarks_in(self, landmarks: np.ndarray, side: int) -> np.ndarray:
        """`landmarks` in the pixels of `cut(..., side)`."""
        w, h = self.size
        return (landmarks - [self.x0, self.y0]) * [side / w, side / h]


def face_crop(landmarks: np.ndarray, shape: tuple[int, ...]) -> FaceCrop:
    """The square SadTalker's `crop` preprocessing takes (its Preprocesser.align_face): centred a tenth of the
    way from the eyes to the mouth, half-side max(2 x eye distance, 1.8 x eye-to-mouth), clipped to the image."""
    lm = landmarks.astype(np.float64)
    eye_left, eye_right = lm[36:42].mean(0), lm[42:48].mean(0)
    eye_avg = (eye_left + eye_right) / 2
    eye_to_mouth = (lm[48] + lm[54]) / 2 - eye_avg
    half = max(np.hypot(*(eye_right - eye_left)) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    cx, cy = eye_avg + 0.1 * eye_to_mouth
    h, w = shape[:2]
    return FaceCrop(
        int(max(cx - half, 0)), int(max(cy - half, 0)), int(min(np.ceil(cx + half), w)), int(min(np.ceil(cy + half), h))
    )


def face_mask(landmarks: np.ndarray, crop: FaceCrop) -> np.ndarray:
    """Float32 (h, w, 1) weights over the crop: 1 on the face (the landmarks' hull, raised to the hairline),
    feathered to exactly 0 before the crop's edges."""
    w, h = crop.size
    local = (landmarks - [crop.x0, crop.y0]).astype(np.float64)
    brows = local[17:27].copy()
    brows[:, 1] -= 0.25 * (local[8, 1] - local[17:27, 1].mean())  # the forehead moves with the brows
    hull = cv2.convexHull(np.concatenate([local, brows]).astype(np.int32))
    mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0)
    feather = max(2, int(0.04 * w))
    # shrink by more than the blur radius, so the blurred edge reaches 0 inside the hull and the crop
    core = cv2.erode(mask, np.ones((2 * feather + 3,) * 2, np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.GaussianBlur(core, (2 * feather + 1,) * 2, 0)[..., None]


def paste(photo: np.ndarray, face: np.ndarray, crop: FaceCrop, mask: np.ndarray) -> np.ndarray:
    """`face` (any square size, RGB uint8) resized into `crop` of a copy of `photo`, blended through `mask`."""
    x0, y0, x1, y1 = crop.x0, crop.y0, crop.x1, crop.y1
    region = photo[y0:y1, x0:x1].astype(np.float32)
    generated = cv2.resize(face, crop.size, interpolation=cv2.INTER_CUBIC).astype(np.float32)
    frame = photo.copy()
    frame[y0:y1, x0:x1] = np.clip(region + mask * (generated - region) + 0.5, 0, 255).astype(np.uint8)
    return frame
