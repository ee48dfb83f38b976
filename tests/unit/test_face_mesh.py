"""The evaluator's second landmark reader (models/face/mesh.py, models/eval/readers.py): frontal photos read as
dlib reads them, and a turned face's drawn lips and blinks, which dlib's fit misses. The tests that run the
models skip where ai-edge-litert or the model files (`avatar models download face_mesh`) are missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import BackendUnavailable
from models.eval import readers
from models.eval.lipsync import CLOSED, aperture
from models.eval.quality import (
    MESH_BLINK_RAMP,
    SAME_PERSON,
    QualityReport,
    closings,
    count_blinks,
    evaluate_quality,
    eye_aspect,
    eyes_open_frames,
    separate,
)
from models.face import landmarks as lm
from models.face import mesh
from models.face.analysis import FaceAnalysis
from models.types import Availability

FPS = 25
BLINKS = (0.6, 2.2, 3.6)  # seconds: three blinks in 4.8 s = 37.5 a minute
OPEN_EVERY = 1.2  # seconds: the jaw opens for the second half of each such period, the lips press in the first

needs_mesh = pytest.mark.skipif(not mesh.availability().ok, reason=mesh.availability().reason)


def _controls(t: float) -> dict[str, float]:
    blink = max((1.0 for b in BLINKS if b <= t < b + 0.12), default=0.0)
    opened = t % OPEN_EVERY >= OPEN_EVERY / 2
    return {"blink": blink, "jaw_open": 0.8 if opened else 0.0, "lip_press": 0.0 if opened else 1.0}


def test_a_one_frame_closing_counts_only_when_asked() -> None:
    aspects = np.array([0.3] * 10 + [0.1] + [0.3] * 10 + [0.1, 0.1] + [0.3] * 5, np.float32)
    assert count_blinks(aspects) == 1  # dlib's lids: a one-frame dip is a slip
    assert count_blinks(aspects, one_frame_counts=True) == 2


def test_a_closing_either_reader_saw_counts_once() -> None:
    """Grace Hopper behind her glasses: the eye model read a shut lid at 0.6 of open and missed one blink dlib saw;
    over eyes that look down dlib's lids stay put where the eye model sees them shut."""
    dlib = np.array([0.3] * 6 + [0.09] * 3 + [0.3] * 10 + [0.1] * 3 + [0.3] * 6, np.float32)
    eyes = np.array([0.3] * 5 + [0.12] * 3 + [0.3] * 11 + [0.19] * 3 + [0.3] * 4 + [0.1, 0.3], np.float32)
    assert closings(dlib) == [(6, 8), (19, 21)]
    assert closings(eyes, one_frame_counts=True) == [(5, 7), (26, 26)]  # 0.19: not shut enough to count
    assert separate(closings(dlib) + closings(eyes, one_frame_counts=True)) == 3


def test_the_mesh_counts_the_frames_beside_a_closing_as_the_blink() -> None:
    """The eye model reads a half-lowered lid as open; dlib's lids (no ramp) are left as they were."""
    aspects = np.array([0.3] * 4 + [0.32, 0.1, 0.31] + [0.3] * 4 + [np.nan, 0.3], np.float32)
    assert np.flatnonzero(~eyes_open_frames(aspects, 0)).tolist() == [5, 11]  # 11: no face there
    assert np.flatnonzero(~eyes_open_frames(aspects, MESH_BLINK_RAMP)).tolist() == [3, 4, 5, 6, 7, 11]


def test_without_the_mesh_auto_keeps_dlib_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mesh, "availability", lambda: Availability(False, "face mesh runtime missing"))
    choice = readers.choose("auto", ())
    assert (choice.reader, choice.mesh) == ("dlib", None)
    assert "not installed (face mesh runtime missing)" in choice.why
    with pytest.raises(BackendUnavailable, match="runtime missing"):
        readers.choose("mesh", ())
    assert readers.choose("dlib", ()).why == "asked for"
    with pytest.raises(ValueError, match="one of auto, dlib, mesh"):
        readers.choose("openface", ())


@needs_mesh
@pytest.mark.parametrize("photo", ["grace_hopper", "astronaut"])
def test_the_mesh_reads_a_frontal_photo_as_dlib_does(photo: str) -> None:
    """Grace Hopper's closed lips: dlib 0.004, the mesh 0.028; the astronaut's smile 0.147 and 0.184 (0.171 in the
    crop two re-crops from the detector's box gave, 0.18-0.19 in the later frames of a still video that followed
    it); the lids 0.295 / 0.318 and 0.332 / 0.378."""
    import scripts.sample_photos as samples

    image = np.ascontiguousarray(getattr(samples, photo)())
    box = lm.detect_faces(image)[0]
    points = lm.landmarks(image, box)
    fitted = mesh.fit_from_box(image, lm.corners(box))
    assert fitted is not None and fitted.shape == (468, 3)
    assert mesh.yaw_degrees(fitted) < 10
    assert mesh.mouth_aperture(fitted) == pytest.approx(aperture(points), abs=0.04)
    openings = [mesh.eye_opening(e) for e in mesh.eye_contours(image, fitted)]
    assert np.mean(openings) == pytest.approx(eye_aspect(points), abs=0.06)


@needs_mesh
def test_auto_reads_a_frontal_faces_lips_with_dlib_and_its_lids_with_the_mesh() -> None:
    """The eye model follows blinks dlib's lids miss (over eyes that look down); the lips stay dlib's."""
    from models.face.analysis import analyze_face
    from models.render.warp import puppet_for
    from scripts.sample_photos import grace_hopper

    face = analyze_face(np.ascontiguousarray(grace_hopper()), size=256)
    puppet = puppet_for(face)
    frames = [puppet.frame({"blink": b}) for b in ([0.0] * 8 + [1.0, 1.0]) * 2 + [0.0] * 8]
    choice = readers.choose("auto", frames)
    assert choice.reader == "dlib" and choice.yaw_deg is not None and choice.yaw_deg < 10
    assert choice.mesh is not None and len(choice.mesh.eye_openings) == len(frames)
    report = evaluate_quality(frames, face, FPS, choice)
    assert (report.blink_reader, report.landmarks_reader) == ("dlib+mesh", "dlib")
    assert report.blinks_per_minute == pytest.approx(2 * 60 * FPS / len(frames), abs=0.01)


def _analysed_aside(photo: np.ndarray, data_dir: Path) -> FaceAnalysis:
    """The analysis of `photo` at 512 px, its cache in `data_dir`; the weights where they are."""
    from core.settings import get_settings
    from models.face.analysis import analyze_face

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AVATAR_WEIGHTS_DIR", str(get_settings().weights_dir.resolve()))
        patch.setenv("AVATAR_DATA_DIR", str(data_dir))
        get_settings.cache_clear()
        face = analyze_face(photo, size=512)
    get_settings.cache_clear()
    return face


@pytest.fixture(scope="module")
def turned_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[np.ndarray], FaceAnalysis]:
    """The cameraman (turned ~50 degrees) rendered with presses, openings and three blinks."""
    from models.render.warp import puppet_for
    from scripts.sample_photos import cameraman

    face = _analysed_aside(np.repeat(cameraman()[..., None], 3, axis=2), tmp_path_factory.mktemp("face-data"))
    puppet = puppet_for(face)
    return [puppet.frame(_controls(i / FPS)) for i in range(int(4.8 * FPS))], face


@pytest.fixture(scope="module")
def turned_reading(turned_clip) -> tuple[readers.Choice, QualityReport]:
    clip, face = turned_clip
    choice = readers.choose("auto", clip)
    return choice, evaluate_quality(clip, face, FPS, choice)


@needs_mesh
def test_the_mesh_reads_the_lips_and_blinks_of_a_turned_face(turned_clip, turned_reading) -> None:
    """dlib's fit on these frames reads the pressed lips wider than the open ones (0.39 and 0.16) and no blink;
    the mesh: 0.017 pressed, 0.098 open, and the three blinks."""
    clip, _ = turned_clip
    choice, report = turned_reading
    assert choice.reader == "mesh" and 40 < choice.mesh.yaw_deg < 70, choice.why
    opened = np.array([(i / FPS) % OPEN_EVERY >= OPEN_EVERY / 2 for i in range(len(clip))])
    apertures = choice.mesh.apertures
    assert not np.isnan(apertures).any()
    assert np.max(apertures[~opened]) < 0.5 * CLOSED
    assert np.median(apertures[opened]) > 4 * np.median(apertures[~opened])
    assert report.blink_reader == "mesh"
    assert report.blinks_per_minute == pytest.approx(37.5, abs=0.1)


@needs_mesh
def test_a_turned_faces_render_reads_as_the_same_person(turned_reading) -> None:
    """Measured with dlib's 68 points, which stay where a frontal face's would be, the framed photo itself read
    0.58 from the cameraman's photo; with the mesh's points on frames and photo alike, 0.03, and these frames
    0.07-0.11 with pressed lips, 0.22-0.27 opened wide, 0.46-0.48 with his one visible eye shut (the descriptor's
    own reading of a closed eye: the open frame's lid points in its place change it by 0.01)."""
    _, report = turned_reading
    assert report.landmarks_reader == "mesh"
    assert report.frames_with_face == report.frames
    assert report.identity_distance_photo <= 0.05
    assert report.identity_distance_max_eyes_open <= 0.35
    assert report.identity_distance_max < SAME_PERSON
    assert report.seam_ratio_p95 <= 1.3


@needs_mesh
def test_a_turned_faces_unmoved_photo_measures_as_itself(turned_clip, tmp_path) -> None:
    """The framed cameraman unchanged, as an MP4: every measure must read him as his photo. dlib's points read
    him 0.58 from his photo and his still head jittering by 2-3 px; the mesh's 0.074 (the compression alone: 0.045,
    the photo's own points on the frame), his seam 0.97 times the photo's and his head still. (His mouth reads
    1.3-1.45 times as sharp with either reader: the compression's own edges on his smooth, enlarged face.)"""
    from models.media.video import VideoWriter, read_frames

    _, face = turned_clip
    video = tmp_path / "still.mp4"
    with VideoWriter(video, FPS, face.image.shape[1]) as writer:
        for _ in range(8):
            writer.write(face.image)
    choice = readers.choose("auto", read_frames(video))
    report = evaluate_quality(read_frames(video), face, FPS, choice)
    assert (choice.reader, report.landmarks_reader) == ("mesh", "mesh")
    assert report.identity_distance_max <= 0.1
    assert 0.9 <= report.seam_ratio_median <= report.seam_ratio_p95 <= 1.1
    assert report.jitter_px <= 0.3
    assert report.head_shift_std_px <= 0.5


@needs_mesh
def test_the_mesh_reads_a_turned_face_open_on_a_mid_opening(turned_clip) -> None:
    """The cameraman at mid openings (most open vowels of speech open the jaw 0.3 .. 0.6) was a slit of teeth that
    the mesh read at 0.047 (jaw 0.45), as good as shut next to his pressed lips (0.014); his lips part now. Read
    over five openings: one frame's reading moves by +-0.02 with a pixel of the lips' edge (0.074 .. 0.12 at 0.4 ..
    0.5 between nearby versions of the mouth)."""
    from models.render.warp import Puppet

    _, face = turned_clip
    puppet = Puppet(face)
    jaws = (0.35, 0.4, 0.45, 0.5, 0.55)
    read = readers.read_with_mesh(
        [puppet.frame({"jaw_open": j}) for j in jaws] + [puppet.frame({"jaw_open": 0.45, "lip_press": 1.0})]
    )
    mid, pressed = read.apertures[: len(jaws)], read.apertures[-1]
    assert pressed < 0.5 * CLOSED
    assert np.mean(mid) > 0.08 and np.min(mid) > CLOSED


@needs_mesh
@pytest.mark.parametrize("jaw", [0.45, 0.6])
def test_a_turned_photo_with_its_mouth_open_closes_its_lips(turned_clip, jaw: float, tmp_path: Path) -> None:
    """The cameraman rendered with his mouth open (his upper teeth over the dark inside) and taken as the photo: the
    frontal detector finds him there, turned ~50 degrees, and dlib's fit put his mouth a mouth width back on his
    cheek, its inner lips on his teeth, and the frontal rig ran. A press left the photo's opening as it was: the
    mesh read 0.11 (jaw 0.45) and 0.12 (0.6) pressed, the photo itself 0.11 and 0.12. His mouth is now read as a
    turned face's (its landmarks on the opening the photo shows, the teeth in it): pressed 0.026 and 0.033."""
    from models.render.warp import Puppet

    _, face = turned_clip
    photo = Puppet(face).frame({"jaw_open": jaw})
    opened = _analysed_aside(photo, tmp_path / "data")
    assert opened.frontal and opened.mouth_turned
    pressed = Puppet(opened).frame({"lip_press": 1.0})
    shown, closed = readers.read_with_mesh([opened.image, pressed]).apertures
    assert shown > 1.5 * CLOSED
    assert closed < CLOSED
