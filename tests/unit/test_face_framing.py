"""Framing a face the photo barely contains: never a mirrored copy of the photo, and the user is told."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from models.face.analysis import analyze_face
from scripts.sample_photos import astronaut_at_edge, grace_tight


def _mirror_likeness(framed: np.ndarray, edge: int, width: int = 24) -> float:
    """Correlation of the horizontal gradients left of column `edge` with those right of it, flipped: near 1
    when the frame beyond the photo's left edge is its mirror image."""
    gray = cv2.cvtColor(framed, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gradient = cv2.Sobel(gray, cv2.CV_32F, 1, 0)
    outside = gradient[:, edge - width : edge]
    inside = -gradient[:, edge : edge + width][:, ::-1]  # a mirror flips the sign of horizontal gradients
    return float(np.corrcoef(outside.ravel(), inside.ravel())[0, 1])


def _photo_edge_column(matrix: np.ndarray) -> int:
    return int(round(matrix[0, 2]))  # where the photo's x = 0 lands in the frame


def test_face_at_the_edge_is_framed_from_the_photo_alone(data_dir: Path) -> None:
    photo = astronaut_at_edge()
    face = analyze_face(photo)
    # The frame is shifted inside the photo: every frame pixel maps to a photo pixel, none is invented.
    inverse = cv2.invertAffineTransform(_matrix(face, photo))
    corners = cv2.transform(np.array([[[0, 0], [511, 511]]], np.float32), inverse)[0]
    assert corners.min() >= -0.5 and corners[1, 0] <= photo.shape[1] - 0.5 and corners[1, 1] <= photo.shape[0] - 0.5
    assert any("edge" in note for note in face.notes)


def test_tight_photo_is_extended_with_a_blurred_border_not_a_mirror(data_dir: Path) -> None:
    photo = grace_tight()
    face = analyze_face(photo)
    edge = _photo_edge_column(_matrix(face, photo))
    assert edge > 24, "the frame reaches beyond the photo's left edge"
    assert _mirror_likeness(face.image, edge) < 0.2
    assert any("outside the photo" in note for note in face.notes)


def _matrix(face, photo: np.ndarray) -> np.ndarray:
    """The photo -> frame similarity, recovered from the landmarks the analysis moved into the frame."""
    from models.face import landmarks as lm

    points = lm.landmarks(photo, lm.detect_faces(photo)[0])
    matrix, _ = cv2.estimateAffinePartial2D(points, face.landmarks)
    return matrix


def test_a_blink_beside_the_frame_edge_leaves_no_black_hole(data_dir: Path) -> None:
    from models.render.warp import Puppet

    face = analyze_face(astronaut_at_edge())
    frame = Puppet(face).frame({"blink": 1.0, "head_yaw": 3.0, "head_roll": 2.0})
    eyes = slice(int(face.landmarks[36:48, 1].min()) - 10, int(face.landmarks[36:48, 1].max()) + 10)
    edge = frame[eyes, :6].astype(int).sum(-1)
    photo_edge = face.image[eyes, :6].astype(int).sum(-1)
    assert edge.min() > 0.5 * photo_edge.min()


def test_the_extended_border_fades_into_a_blur_not_stripes(data_dir: Path) -> None:
    """What lies beyond the photo's edge is its edge run on, blurred more the further out: blurred evenly, the
    replicated edge pixels ran across the whole border as stripes (under a tight crop's chin, its collar's colours
    as a bar code). Across the stripes (here rows, beyond the left edge) the far border is now half as busy as the
    border at the edge (0.88 of it with an even blur)."""
    photo = grace_tight()
    face = analyze_face(photo)
    edge = _photo_edge_column(_matrix(face, photo))
    gray = cv2.cvtColor(face.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    across = np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    assert edge > 48
    assert across[:, : edge - 40].mean() < 0.6 * across[:, edge - 8 : edge].mean()
