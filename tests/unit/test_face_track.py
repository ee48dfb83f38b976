"""Following one face through a video (models.face.track): still faces read still, moving ones are followed."""

from __future__ import annotations

import cv2
import numpy as np

from models.face.analysis import analyze_face
from models.face.track import track_faces


def test_a_still_video_is_tracked_still(data_dir) -> None:
    """Between key frames the landmarks are fitted in the key frame's box. Boxes rebuilt from the previous frame's
    landmarks fed each fit's error into the next: on 25 copies of one frame Grace Hopper's landmarks swung 18-20 px
    between key frames (the dubbed mouth drawn there with them), two_people's 8 px."""
    import scripts.sample_photos as samples

    for photo in ("grace_hopper", "two_people"):
        image = analyze_face(getattr(samples, photo)(), size=512).image
        track = track_faces([image] * 25, 25, None, key_interval=10)
        assert track.found == 25
        assert float(np.abs(track.points - track.points[0]).max()) <= 0.5, photo


def test_a_face_moving_off_its_box_is_detected_again_and_followed(data_dir) -> None:
    """The astronaut drifting 4 px right a frame: the key frame's box is left behind, so she is detected again
    before the key interval is up, and her eyes, nose and mouth are followed within a couple of pixels."""
    from scripts.sample_photos import astronaut

    image = analyze_face(astronaut(), size=512).image
    shifts = [4.0 * k for k in range(20)]
    frames = [
        cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, 0]]), (512, 512), borderMode=cv2.BORDER_REPLICATE)
        for dx in shifts
    ]
    track = track_faces(frames, len(frames), None, key_interval=100)
    assert track.found == len(frames)
    assert len(track.keys) > 1  # detected again once moved off, long before the key interval
    moved = track.points[:, 27:] - np.array([[[dx, 0.0]] for dx in shifts], np.float32)
    assert float(np.median(np.abs(moved - moved[0]))) <= 1.5
