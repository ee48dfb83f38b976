"""How the warp renderer's geometry looks: round slit outlines, and a background that stays put beside an
opening jaw (measured on the astronaut)."""

from __future__ import annotations

import numpy as np

from models.face.analysis import FaceAnalysis
from models.render.mesh import spline_matrix
from models.render.warp import puppet_for


def test_slit_outline_passes_through_the_landmarks_and_rounds_an_arc() -> None:
    angles = np.linspace(0, np.pi, 5)
    arc = np.stack([np.cos(angles), np.sin(angles)], 1)
    matrix = spline_matrix(arc)
    curve = matrix @ arc
    np.testing.assert_allclose(matrix.sum(1), 1, atol=1e-5)  # moving every point moves the curve with them
    np.testing.assert_allclose(curve[:: len(curve) // 4], arc, atol=1e-5)
    between = np.linalg.norm((arc[:-1] + arc[1:]) / 2, axis=1)  # the polygon cuts inside the arc...
    assert np.abs(np.linalg.norm(curve, axis=1) - 1).max() < 0.5 * (1 - between.min())  # ...the curve hugs it


def _luma(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def test_background_beside_the_jaw_stays_put_when_the_mouth_opens(astronaut_face: FaceAnalysis) -> None:
    puppet = puppet_for(astronaut_face)
    rest, wide = (_luma(puppet.frame({"jaw_open": j})) for j in (0.0, 1.2))
    p = astronaut_face.landmarks
    face_width = float(np.linalg.norm(p[16] - p[0]))
    changed = []
    for i, side in ((4, -1), (12, 1)):  # outside the jaw line, level with the lower cheeks
        x, y = (p[i] + [side * 0.15 * face_width, 0]).astype(int)
        changed.append(np.abs(wide[y - 6 : y + 7, x - 6 : x + 7] - rest[y - 6 : y + 7, x - 6 : x + 7]).mean())
    assert max(changed) < 6
