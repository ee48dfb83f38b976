"""The photo-faithfulness metrics on clips rendered with known blinks, motion and identity."""

from __future__ import annotations

import numpy as np
import pytest

from models.eval.quality import closings, dlib_closings, evaluate_quality
from models.face.analysis import FaceAnalysis
from models.render.warp import puppet_for

FPS = 25
BLINKS = (0.6, 2.2, 3.6)  # seconds: three blinks in 4.8 s = 37.5 a minute


def _controls(t: float) -> dict[str, float]:
    blink = max((1.0 for b in BLINKS if b <= t < b + 0.12), default=0.0)
    return {"blink": blink, "jaw_open": 0.3 + 0.3 * np.sin(2 * np.pi * 1.5 * t), "head_roll": 2.0 * np.sin(t)}


@pytest.fixture(scope="module")
def clip(astronaut_face: FaceAnalysis) -> list[np.ndarray]:
    puppet = puppet_for(astronaut_face)
    return [puppet.frame(_controls(i / FPS)) for i in range(int(4.8 * FPS))]


def test_a_faithful_clip_scores_as_the_same_person_with_its_blinks(
    clip: list[np.ndarray], astronaut_face: FaceAnalysis
) -> None:
    report = evaluate_quality(clip, astronaut_face, FPS)
    assert report.frames == report.frames_with_face == len(clip)
    assert report.identity_distance_max < 0.45
    assert report.identity_distance_max_eyes_open < report.identity_distance_max  # blinks move it most
    assert report.identity_distance_photo < 0.1  # the framed photo itself, as the evaluator sees a frame
    assert report.identity_distance_photo < report.identity_distance_median
    assert report.blinks_per_minute == pytest.approx(37.5, abs=0.1)
    assert 0.8 < report.head_roll_std_deg * np.sqrt(2) / 2.0 < 1.3  # a 2-degree sine: std = amplitude / sqrt(2)
    assert report.jitter_px < 2.0  # dlib re-fitting noise: about a pixel
    assert 0.7 < report.seam_ratio_median < 1.3
    assert 0.5 < report.mouth_sharpness_ratio < 3


def test_another_face_shaking_scores_far(clip: list[np.ndarray], astronaut_face: FaceAnalysis) -> None:
    from scripts.sample_photos import grace_hopper

    grace = np.ascontiguousarray(grace_hopper()[44:556])
    rng = np.random.default_rng(0)
    shaking = [np.roll(grace, tuple(rng.integers(-4, 5, 2)), axis=(0, 1)) for _ in range(12)]
    report = evaluate_quality(shaking, astronaut_face, FPS)
    assert report.identity_distance_median > 0.6
    assert report.jitter_px > 3 * evaluate_quality(clip[:12], astronaut_face, FPS).jitter_px
    assert report.blinks_per_minute == 0


@pytest.mark.parametrize("photo", ["grace_hopper", "grace_tight", "two_people"])
def test_the_tracker_keeps_a_still_closed_mouth_closed(photo, data_dir) -> None:
    """Re-fitting a photo's own landmarks in the box made from them (as the evaluator tracks a video) must
    reproduce the detector's fit: with the old, non-square box these closed lips read 0.034-0.039 open."""
    import scripts.sample_photos as samples
    from models.eval.lipsync import CLOSED, aperture
    from models.face import landmarks as lm
    from models.face.analysis import analyze_face

    image = analyze_face(getattr(samples, photo)(), size=512).image
    detected = lm.landmarks(image, lm.detect_faces(image)[0])
    points = detected
    for _ in range(3):  # three frames of a still video
        points = lm.landmarks(image, lm.box_from_points(points))
    assert aperture(detected) < 0.025
    assert aperture(points) < 0.5 * CLOSED


def test_inner_lips_that_dlib_crossed_read_closed(astronaut_face: FaceAnalysis) -> None:
    """dlib's fit of a held-out small face's shut lips crossed them (each lower inner point above its upper one):
    counted by their length, those frames read 0.12-0.14 of the mouth open. The astronaut's parted smile with its
    inner lips crossed so (upper on the outer lower lip, lower on the outer upper) read 0.33 open; now closed."""
    from models.eval.lipsync import aperture
    from tests.unit.test_inner_lips import _crossed_as_on_the_washed_out_face

    points = astronaut_face.landmarks
    crossed = _crossed_as_on_the_washed_out_face(points)
    assert aperture(points) > 0.1  # her own smile's opening, uncrossed: read as it is
    assert aperture(crossed) == 0.0


def test_a_leaning_photo_unmoved_scores_as_itself(data_dir) -> None:
    """The small astronaut turned 25 degrees: its frames are read turned upright (lm.landmarks_upright), and so is
    the photo they are compared with. Placed by its analysis's landmarks (fitted on the photo enlarged, as it
    leans), the unmoved photo read as a frame scored 0.52 of its own jaw seam and 0.74 of its mouth's sharpness."""
    import cv2

    from models.face.analysis import analyze_face
    from scripts.sample_photos import astronaut_small

    image = astronaut_small()
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), -25.0, 1.0)
    leaning = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    face = analyze_face(leaning)
    report = evaluate_quality([face.image], face, FPS)
    assert report.seam_ratio_median == pytest.approx(1.0, abs=0.05)
    assert report.mouth_sharpness_ratio == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("photo", ["grace_hopper", "cameraman"])
def test_a_still_video_reads_still(photo, data_dir) -> None:
    """Every frame of a still video is fitted in the same detector's box: the landmarks stay put. Boxes rebuilt
    from each frame's own fit fed its error into the next: over 25 copies of one frame Grace Hopper's landmarks
    wandered 31 px, the cameraman's 12 px (his lips from 0.21 to 0.34 mouth widths apart)."""
    import scripts.sample_photos as samples
    from models.eval.quality import REDETECT_EVERY, track_landmarks
    from models.face.analysis import analyze_face

    photo = getattr(samples, photo)()
    image = analyze_face(np.dstack([photo] * 3) if photo.ndim == 2 else photo, size=512).image
    points = [p for _, p in track_landmarks([image] * REDETECT_EVERY)]
    assert all(p is not None for p in points)
    assert max(float(np.abs(p - points[0]).max()) for p in points) <= 0.5


def test_the_tracker_follows_a_moving_head(data_dir) -> None:
    """The head drifting 1.5 px right and 0.8 px down a frame, 50 px in all: the eyes, nose and mouth move with
    it (dlib's own noise on these frames: about a pixel), and the detector is asked again once it moved off."""
    import cv2

    from models.eval.quality import track_landmarks
    from models.face.analysis import analyze_face
    from scripts.sample_photos import astronaut

    image = analyze_face(astronaut(), size=512).image
    shifts = [np.array([1.5, 0.8]) * k for k in range(30)]
    frames = [
        cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (512, 512), borderMode=cv2.BORDER_REPLICATE)
        for dx, dy in shifts
    ]
    points = [p for _, p in track_landmarks(frames)]
    errors = [np.abs(p - shift - points[0])[27:] for p, shift in zip(points, shifts, strict=True)]
    assert np.median([np.median(e) for e in errors]) <= 1.0
    assert max(float(e.max()) for e in errors) <= 4.0


# dlib's eye aspect ratio on each frame of a held-out render (5.9 s, 25 fps): a woman looking down, her lids nearly
# shut in the photo (median 0.05); its two drawn blinks are the runs near 0.35 (dlib took the lash line for a lower
# lid), the dips to 0.015-0.03 are its landmarks slipping
LOOKING_DOWN = (
    "57 43 54 52 51 75 41 33 41 71 55 19 28 32 88 68 50 32 24 26 56 27 18 63 57 52 31 29 64 38 68 51 44 36 56 78 60 "
    "61 66 34 353 314 338 366 242 43 43 43 44 37 74 57 91 21 60 57 57 42 64 62 53 44 45 49 36 46 60 34 63 47 42 66 "
    "98 44 59 60 26 63 58 50 59 48 23 54 36 40 55 46 27 361 354 379 283 94 31 30 28 31 20 33 45 55 42 30 61 55 67 "
    "49 41 38 44 50 53 35 15 33 28 60 50 55 31 15 22 28 40 26 51 45 52 64 40 77 58 47 55 48 67 90 66 44 37 66 66 67 "
    "67 48 57"
)  # thousandths


def test_lids_already_nearly_shut_read_no_blinks_from_dlibs_slips() -> None:
    """On eyes this narrow a landmark slip is as deep as a closing: the series read five closings (51 blinks a
    minute), none where a blink is drawn. dlib's lids are not read there (the mesh's eye model still is, where it
    runs)."""
    aspects = np.array(LOOKING_DOWN.split(), np.float32) / 1000
    assert len(closings(aspects)) == 5  # what a closing's rule alone reads in it
    assert dlib_closings(aspects) == []
    assert dlib_closings(aspects * 4) == closings(aspects * 4)  # eyes open as wide as most read as before
