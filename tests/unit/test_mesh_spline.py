"""The warp mesh's spline weights equal scipy's natural cubic spline (computed without importing it)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import CubicSpline

from models.render.mesh import spline_matrix


@pytest.mark.parametrize("n", [2, 3, 5, 12])
def test_spline_matrix_equals_scipys_natural_cubic_spline(astronaut_face, n):
    rest = astronaut_face.landmarks[48 : 48 + n].astype(np.float64)  # a chain along the outer lip
    weights = spline_matrix(rest, steps=6)
    knots = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(rest, axis=0), axis=1))])
    expected = CubicSpline(knots / knots[-1], np.eye(n), bc_type="natural")(np.linspace(0, 1, (n - 1) * 6 + 1))
    assert np.allclose(weights, expected, atol=1e-5)
    assert np.allclose(
        weights @ rest,
        CubicSpline(knots / knots[-1], rest, bc_type="natural")(np.linspace(0, 1, (n - 1) * 6 + 1)),
        atol=1e-3,
    )
