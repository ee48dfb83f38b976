"""The detector looks at a reduced copy of a big photo first, and at the full photo when the face is too small
for that copy."""

from __future__ import annotations

import cv2
import numpy as np

from models.face.landmarks import DETECT_SIDE, _detector, detect_faces


def test_a_big_photo_is_searched_reduced_and_the_box_maps_back(astronaut: np.ndarray) -> None:
    side = 3000
    big = cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_CUBIC)
    small_box, box = detect_faces(astronaut)[0], detect_faces(big)[0]  # the largest face
    scale = side / astronaut.shape[0]
    centre = np.array([box.center().x, box.center().y])
    assert np.abs(centre - scale * np.array([small_box.center().x, small_box.center().y])).max() < 0.1 * box.width()
    assert 0.8 < box.width() / (scale * small_box.width()) < 1.25


def test_a_face_too_small_for_the_reduced_copy_is_found_on_the_full_photo(astronaut: np.ndarray) -> None:
    side = 3000
    head = astronaut[40:260, 130:330]  # the face and some hair and collar
    face_px = 150  # about 51 px in the reduced copy: below the HOG detector's ~80 px
    small = cv2.resize(head, (round(head.shape[1] * face_px / 100), round(head.shape[0] * face_px / 100)))
    canvas = np.full((side, side, 3), 120, np.uint8)
    canvas[1500 : 1500 + small.shape[0], 1000 : 1000 + small.shape[1]] = small
    reduced = cv2.resize(canvas, (DETECT_SIDE, DETECT_SIDE), interpolation=cv2.INTER_AREA)
    assert list(_detector()(reduced, 0)) == []  # the reduced pass alone misses it
    (box,) = detect_faces(canvas)
    assert 1000 <= box.left() < box.right() <= 1000 + small.shape[1]
    assert 1500 <= box.top() < box.bottom() <= 1500 + small.shape[0]
