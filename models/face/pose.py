"""Head pose (pitch, yaw, roll in degrees) from 2D landmarks and a generic 3D face, by cv2.solvePnP."""

from __future__ import annotations

import cv2
import numpy as np

# A generic head in millimetres, x right, y up, z towards the camera; rows match POSE_POINTS.
MODEL_3D = np.array(
    [
        (0.0, 0.0, 0.0),  # nose tip
        (0.0, -63.6, -12.5),  # chin
        (-43.3, 32.7, -26.0),  # outer corner of the image-left eye
        (43.3, 32.7, -26.0),  # outer corner of the image-right eye
        (-28.9, -28.9, -24.1),  # mouth corners
        (28.9, -28.9, -24.1),
    ],
    dtype=np.float64,
)
POSE_POINTS = [30, 8, 36, 45, 48, 54]


def head_pose(points: np.ndarray, image_size: int) -> np.ndarray:
    """(pitch, yaw, roll) in degrees of a face with 68 landmarks `points` in a square image
    of `image_size`."""
    f = float(image_size)
    camera = np.array([[f, 0, f / 2], [0, f, f / 2], [0, 0, 1]], dtype=np.float64)
    # Flip y so the model's y-up axes match the image's y-down ones.
    model = MODEL_3D * np.array([1.0, -1.0, -1.0])
    ok, rvec, _ = cv2.solvePnP(
        model, points[POSE_POINTS].astype(np.float64), camera, np.zeros(4), flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return np.zeros(3, np.float32)
    rotation, _ = cv2.Rodrigues(rvec)
    angles, *_ = cv2.RQDecomp3x3(rotation)
    pitch, yaw, roll = (((a + 180.0) % 360.0) - 180.0 for a in angles)
    return np.array([pitch, yaw, roll], dtype=np.float32)
