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


@pytest.mark.parametrize("n", [4, 5, 12])
def test_round_ends_equal_scipys_not_a_knot_spline(astronaut_face, n):
    rest = astronaut_face.landmarks[60 : 60 + n].astype(np.float64) if n <= 8 else astronaut_face.landmarks[48:60]
    weights = spline_matrix(rest, steps=6, round_ends=True)
    knots = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(rest, axis=0), axis=1))])
    expected = CubicSpline(knots / knots[-1], np.eye(n), bc_type="not-a-knot")(np.linspace(0, 1, (n - 1) * 6 + 1))
    assert np.allclose(weights, expected, atol=1e-5)


def test_an_open_mouths_outline_leaves_its_corners_round():
    """The lower lip of a wide-open mouth (corner, then three points a mouth's depth down, knots at the closed
    lip's arc length): with round ends the outline bulges below the straight line from the corner to the next
    point nearly twice as far as the natural spline, which runs almost straight there (a trapezoid's corner)."""
    chain = np.array([[0.0, 0.0], [20.0, 30.0], [50.0, 40.0], [80.0, 30.0], [100.0, 0.0]])
    rest = np.array([[0.0, 0.0], [20.0, 3.0], [50.0, 4.0], [80.0, 3.0], [100.0, 0.0]])

    def bulge(curve: np.ndarray) -> float:  # below the chord, over the first half of the way to the next point
        return float((curve[1:5, 1] - 1.5 * curve[1:5, 0]).max())

    assert bulge(spline_matrix(rest, steps=8, round_ends=True) @ chain) > 1.7 * bulge(
        spline_matrix(rest, steps=8) @ chain
    )
