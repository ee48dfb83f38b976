"""The puppet's triangle mesh: 68 landmarks plus forehead, neck, ring and border anchors, triangulated once.

The mouth and the eyes are slits: an upper chain and a lower chain of landmarks meeting at two corners. Each
pixel of the photo belongs to the upper side of the face (everything but the lower lip/lids and the slits'
insides), to the lower side (the lower lip and the lower lids), or to a slit's inside (teeth, eyeballs). The
renderer warps the two sides with two smooth displacement fields (each side's motion extended smoothly over
the other side) and fills what neither side covers, which lets a closed mouth open.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from models.face.frame import (
    BROWS,
    JAW,
    LEFT_EYE_SLIT,
    LOWER_LIDS,
    MOUTH_SLIT,
    OUTER_LOWER_LIP,
    RIGHT_EYE_SLIT,
    FaceFrame,
)

SLITS = (MOUTH_SLIT, LEFT_EYE_SLIT, RIGHT_EYE_SLIT)
GRID_STEP = 4  # displacement fields are smooth: they live on a grid this much coarser than the image
SPLINE_STEPS = 4  # points per landmark segment when a slit's outline is drawn as a smooth curve

UPPER, LOWER = 1, 2  # side labels
# Anchor placement, in face heights (nose bridge to chin) or widths (jaw side to side)
RING = 1.25  # the ring beside the cheeks, as a scale of the upper jaw about the nose
FOREHEAD = 0.55  # above the brows
NECK = 0.45  # below the lower jaw
UNDER_EYES = 0.12  # below the lower lids
BESIDE = 0.12  # out from the lower jaw's sides (widths)
BESIDE_JAW = [4, 5, 11, 12]


@dataclass
class FaceMesh:
    vertices: np.ndarray  # (N, 2) float32 rest positions; the first 68 are the landmarks
    triangles: np.ndarray  # (T, 3) int32
    upper_extend: np.ndarray  # (N, N): vertex offsets -> the upper-side field's offsets (lower chains smoothed)
    lower_extend: np.ndarray  # (N, N): likewise for the lower-side field
    grid_shape: tuple[int, int]  # the coarse grid the renderer computes its sampling maps on
    labels: np.ndarray  # (T,) UPPER, LOWER or 0 (inside a slit) per triangle
    side_upper: np.ndarray  # (size, size) float32, 1 on the upper side of the photo (feathered)
    side_lower: np.ndarray  # (size, size) float32, 1 on the lower side
    slit_vertices: list[np.ndarray]  # per slit: the vertices whose motion bounds the region it changes


def build_mesh(points: np.ndarray, frame: FaceFrame, size: int) -> FaceMesh:
    vertices = np.concatenate([points, _anchors(points, frame, size)]).astype(np.float32)
    triangles = _triangulate(vertices, frame)
    upper_extend = _harmonic_extension(triangles, len(vertices), [c for _, lower in SLITS for c in lower[1:-1]])
    lower_extend = _harmonic_extension(triangles, len(vertices), [c for upper, _ in SLITS for c in upper[1:-1]])
    labels = _triangle_labels(triangles)
    side_upper = _paint(vertices, triangles[labels == UPPER], size)
    side_lower = _paint(vertices, triangles[labels == LOWER], size)
    slit_vertices = []
    for upper, lower in SLITS:
        touched = np.isin(triangles, upper + lower).any(1)
        slit_vertices.append(np.unique(triangles[touched]))
    return FaceMesh(
        vertices,
        triangles,
        upper_extend,
        lower_extend,
        (size // GRID_STEP,) * 2,
        labels,
        side_upper,
        side_lower,
        slit_vertices,
    )


def _anchors(points: np.ndarray, frame: FaceFrame, size: int) -> np.ndarray:
    """Static points that confine the motion: a ring outside the jaw, forehead, neck, and the frame border."""
    f = frame
    # beside the cheeks, not under the chin
    ring = f.centre + (points[JAW[:4] + JAW[-4:]] - f.centre) * RING
    forehead = points[BROWS[0] + BROWS[1]] - f.down * FOREHEAD * f.height
    # far enough that a wide-open jaw never folds over it; the renderer keeps the neck below the jaw still
    neck = _neck_anchors(points, f)
    # under the lower lids, so a blink moves only the lids and not the cheeks
    under_eyes = points[LOWER_LIDS] + f.down * UNDER_EYES * f.height
    # beside the lower jaw, so an opening mouth drags only a thin band of the background down with it
    lower_jaw = points[BESIDE_JAW]
    centre_x = float(points[[JAW[0], JAW[-1]]].mean(0) @ f.right)
    beside_jaw = lower_jaw + np.outer(np.sign(lower_jaw @ f.right - centre_x), f.right * BESIDE * f.width)
    ticks = np.linspace(0, size - 1, 5)
    border = np.array([(x, y) for x in ticks for y in ticks if x in (0, size - 1) or y in (0, size - 1)])
    anchors = np.concatenate([ring, forehead, neck, under_eyes, beside_jaw])
    return np.concatenate([_inside(anchors, size), border])


def neck_held(points: np.ndarray, frame: FaceFrame, size: int) -> bool:
    """Whether the mesh holds any of its neck anchors inside the frame of `size` px, short of where they belong:
    the chin lies near the frame's bottom edge, and a dropped chin squeezes what lies between them."""
    neck = _neck_anchors(points, frame)
    return not np.array_equal(_inside(neck, size), neck)


def _neck_anchors(points: np.ndarray, frame: FaceFrame) -> np.ndarray:
    """Where the neck's anchors belong: NECK face heights under the lower jaw's landmarks of `points`."""
    return points[JAW[4:13]] + frame.down * NECK * frame.height


def _inside(anchors: np.ndarray, size: int) -> np.ndarray:
    """`anchors` held a pixel inside the frame of `size` px."""
    return np.clip(anchors, 1, size - 2)


def _triangulate(vertices: np.ndarray, frame: FaceFrame) -> np.ndarray:
    """Delaunay triangles of the mesh with the slits held open (the lower lip and lids pushed down), so every
    slit gets its own inside triangles and no triangle bridges a slit."""
    opened = vertices.copy()
    width = frame.mouth_width
    for (upper, lower), below, gap in zip(
        SLITS, (OUTER_LOWER_LIP, [], []), (0.3 * width, 0.12 * width, 0.12 * width), strict=True
    ):
        inner_upper, inner_lower = list(upper[1:-1]), list(lower[1:-1])
        push = max(0.0, gap - float(np.mean(opened[inner_lower, 1] - opened[inner_upper, 1])))
        opened[inner_lower + list(below), 1] += push
        # Pull the inner corners towards the slit's middle: dlib often puts them beside the outer corners,
        # where Delaunay would wall them off from the slit.
        centre = opened[inner_upper + inner_lower].mean(0)
        corners = [upper[0], upper[-1]]
        opened[corners] += 0.2 * (centre - opened[corners])
    triangles = Delaunay(opened).simplices.astype(np.int32)
    for slit in SLITS:
        _flip_bridges(triangles, slit)
    return triangles


def _flip_bridges(triangles: np.ndarray, slit: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    """Flip the edges of triangles that join the upper and lower chain across the slit to an outside vertex
    (Delaunay does that next to thin corners), so the slit's own vertices form its inside."""
    upper, lower = slit
    members = set(upper + lower)
    for _ in range(len(triangles)):
        tri_sets = [set(t) for t in triangles]
        bridge = next(
            (i for i, t in enumerate(tri_sets) if t & set(upper[1:-1]) and t & set(lower[1:-1]) and not t <= members),
            None,
        )
        if bridge is None:
            return
        outside = (tri_sets[bridge] - members).pop()
        u, v = sorted(tri_sets[bridge] - {outside})
        for keep, other in ((u, v), (v, u)):
            neighbour = next((j for j, t in enumerate(tri_sets) if j != bridge and {keep, outside} <= t), None)
            if neighbour is None:
                continue
            corner = (tri_sets[neighbour] - {keep, outside}).pop()
            if corner in members:
                triangles[bridge] = (other, corner, keep)
                triangles[neighbour] = (other, corner, outside)
                break
        else:
            return


def _harmonic_extension(triangles: np.ndarray, n: int, free: list[int]) -> np.ndarray:
    """(N, N) matrix replacing the offsets of the `free` vertices by the harmonic (neighbour-average)
    extension of all the others. A side's field must be smooth beyond that side,
    or the other side's pixels fold over it near the slit."""
    adjacency = np.zeros((n, n))
    for a, b in ((0, 1), (1, 2), (2, 0)):
        adjacency[triangles[:, a], triangles[:, b]] = adjacency[triangles[:, b], triangles[:, a]] = 1
    laplacian = np.diag(adjacency.sum(1)) - adjacency
    fixed = np.setdiff1d(np.arange(n), free)
    extend = np.eye(n)
    extend[free] = 0
    extend[np.ix_(free, fixed)] = np.linalg.solve(laplacian[np.ix_(free, free)], -laplacian[np.ix_(free, fixed)])
    return extend.astype(np.float32)


def _triangle_labels(triangles: np.ndarray) -> np.ndarray:
    labels = np.full(len(triangles), UPPER)
    for upper, lower in SLITS:
        inside = np.isin(triangles, upper + lower).all(1)
        below = np.isin(triangles, lower[1:-1]).any(1) & ~inside
        labels[inside] = 0
        labels[below] = LOWER
    return labels


def _paint(vertices: np.ndarray, triangles: np.ndarray, size: int) -> np.ndarray:
    """1 inside `triangles`, 0 elsewhere, with a 1 px feather so warped edges stay smooth."""
    mask = np.zeros((size, size), np.float32)
    cv2.fillPoly(mask, list(np.round(vertices[triangles] * 16).astype(np.int32)), 1.0, shift=4)
    return cv2.GaussianBlur(mask, (0, 0), 0.8)


def spline_matrix(rest: np.ndarray, steps: int = SPLINE_STEPS, round_ends: bool = False) -> np.ndarray:
    """((n - 1) * steps + 1, n) weights: a chain of n points -> points on the natural cubic spline through
    them, knots at the chain's rest arc length. The map is linear, so the curve through moved points is one
    small matrix product per frame, and an open mouth or eye is round instead of polygonal. `round_ends`
    (n >= 4): the end segments keep the bend of their neighbours (scipy's "not-a-knot") instead of running
    straight into the ends, so an opening's corners are round."""
    knots = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(rest, axis=0), axis=1))])
    knots = knots / max(knots[-1], 1e-6) if knots[-1] > 0 else np.linspace(0, 1, len(rest))
    at = np.linspace(0, 1, (len(rest) - 1) * steps + 1)
    # scipy's CubicSpline(knots, eye, bc_type="natural") in numpy: importing scipy.interpolate costs a second
    n, h, eye = len(rest), np.diff(knots), np.eye(len(rest))
    second = np.zeros((n, n))  # second derivative at each knot per unit of each point; 0 at the natural ends
    if round_ends and n >= 4:
        system = np.zeros((n, n))
        rhs = np.zeros((n, n))
        for i in range(1, n - 1):
            system[i, i - 1 : i + 2] = h[i - 1], 2 * (h[i - 1] + h[i]), h[i]
        rhs[1:-1] = 6 * np.diff(np.diff(eye, axis=0) / h[:, None], axis=0)
        system[0, :3] = h[1], -(h[0] + h[1]), h[0]  # third derivative continuous at the second knot
        system[-1, -3:] = h[-1], -(h[-2] + h[-1]), h[-2]
        second = np.linalg.solve(system, rhs)
    elif n > 2:
        system = np.diag(2 * (h[:-1] + h[1:])) + np.diag(h[1:-1], 1) + np.diag(h[1:-1], -1)
        second[1:-1] = np.linalg.solve(system, 6 * np.diff(np.diff(eye, axis=0) / h[:, None], axis=0))
    j = np.clip(np.searchsorted(knots, at, side="right") - 1, 0, n - 2)
    b = ((at - knots[j]) / h[j])[:, None]
    a = 1 - b
    curve = (a**3 - a) * second[j] + (b**3 - b) * second[j + 1]
    return (a * eye[j] + b * eye[j + 1] + curve * (h[j] ** 2 / 6)[:, None]).astype(np.float32)
