"""Contact sheets: a few telling frames of the warp renderer on one photo, side by side, for a person to look at."""

from __future__ import annotations

import cv2
import numpy as np

from models.face.analysis import FaceAnalysis

# (label, controls): the photo's own state, then the mouth closed, half open, wide open, and a blink
POSES: tuple[tuple[str, dict[str, float]], ...] = (
    ("photo", {}),
    ("closed (p/b/m)", {"lip_press": 1.0}),
    ("mid", {"jaw_open": 0.35, "upper_lip": 0.15}),
    ("wide open", {"jaw_open": 1.0, "upper_lip": 0.4}),
    ("blink", {"blink": 1.0, "head_yaw": 3.0, "head_roll": 2.0}),
)


def pose_frames(face: FaceAnalysis) -> list[tuple[str, np.ndarray]]:
    """Each of POSES rendered by the warp puppet of `face`."""
    from models.render.warp import puppet_for

    puppet = puppet_for(face)
    return [(label, face.image if not controls else puppet.frame(controls)) for label, controls in POSES]


def contact_sheet(frames: list[tuple[str, np.ndarray]], tile: int = 256) -> np.ndarray:
    """The frames in one row, each scaled to `tile` px and labelled under it (RGB uint8)."""
    band = max(18, tile // 12)
    tiles = []
    for label, frame in frames:
        cell = np.full((tile + band, tile, 3), 255, np.uint8)
        cell[:tile] = cv2.resize(frame, (tile, tile), interpolation=cv2.INTER_AREA)
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(cell, label, (6, tile + band - 6), font, band / 36, (30, 30, 30), 1, cv2.LINE_AA)
        tiles.append(cell)
    return np.concatenate(tiles, axis=1)


def mouth_crops(frames: list[tuple[str, np.ndarray]], face: FaceAnalysis, tile: int = 256) -> np.ndarray:
    """The same frames cropped to the mouth (twice its width), for a close look at lips, teeth and tongue."""
    frame = face.frame
    x0, y0 = np.clip(np.round(frame.mouth_centre - frame.mouth_width).astype(int), 0, face.size)
    x1, y1 = np.clip(np.round(frame.mouth_centre + frame.mouth_width).astype(int), 0, face.size)
    return contact_sheet([(label, frame[y0:y1, x0:x1]) for label, frame in frames], tile)
