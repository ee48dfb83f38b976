"""Re-voicing a video (dubbing) on a real talking video: the astronaut photo made to say one sentence by our own
renderer, then re-voiced with another sentence by `avatar generate --video`.

The source has black frames first (no face), then the talking shot, then a cut to a second shot of the same person
(mirrored, smaller, on grey): what passes through, what is re-detected and what changes are checked on real frames."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from cli.generate import generate_video
from models.eval.lipsync import evaluate
from models.media.video import VideoWriter, probe, read_frames

FIRST = "Hello there, how are you doing today?"
SECOND = "Bob and Pam bought a big blue map. Maybe we can meet by the bay in May."
SIZE = 192
FPS = 25
BLACK = 6  # faceless frames before the talking shot
SECOND_SHOT = 20  # frames after the cut


def _second_shot(frame: np.ndarray) -> np.ndarray:
    """The same person in another framing: mirrored, at 80 %, on a grey background."""
    small = cv2.resize(frame[:, ::-1], None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
    out = np.full_like(frame, 128)
    y, x = (SIZE - small.shape[0]) // 2, (SIZE - small.shape[1]) // 2
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out


@pytest.fixture(scope="module")
def source(astronaut_png: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """black frames + the astronaut saying FIRST (our warp renderer) + a cut to a second shot."""
    folder = tmp_path_factory.mktemp("dub-source")
    with pytest.MonkeyPatch.context() as patch:
        from core.settings import get_settings

        patch.setenv("AVATAR_DATA_DIR", str(folder / "data"))
        get_settings.cache_clear()
        talking = folder / "talking.mp4"
        generate_video(astronaut_png, None, FIRST, talking, {"size": SIZE, "backend": "warp"}, show_progress=False)
    get_settings.cache_clear()
    frames = list(read_frames(talking))
    path = folder / "source.mp4"
    with VideoWriter(path, fps=FPS, size=SIZE, crf=16) as writer:
        for _ in range(BLACK):
            writer.write(np.zeros((SIZE, SIZE, 3), np.uint8))
        for frame in frames:
            writer.write(frame)
        for frame in frames[:SECOND_SHOT]:
            writer.write(_second_shot(frame))
    return path


@pytest.fixture(scope="module")
def dubbed(source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("dubbed")
    with pytest.MonkeyPatch.context() as patch:
        from core.settings import get_settings

        patch.setenv("AVATAR_DATA_DIR", str(folder / "data"))
        get_settings.cache_clear()
        out = folder / "dubbed.mp4"
        summary = generate_video(None, None, SECOND, out, {}, show_progress=False, video=source)
    get_settings.cache_clear()
    return out, summary


def test_the_output_keeps_the_source_size_and_rate_and_covers_the_speech(source: Path, dubbed) -> None:
    out, summary = dubbed
    info, original = probe(out), probe(source)
    assert (info["width"], info["height"], info["fps"]) == (SIZE, SIZE, FPS)
    speech_frames = round(summary["controls"]["frames"])
    # the default policy covers the longer of the two; here the speech is longer: the video ping-pongs on
    assert original["frames"] < speech_frames == info["frames"] == summary["source_video"]["out_frames"]
    assert abs(info["audio_duration"] - info["video_duration"]) < 2 / FPS
    assert summary["backend"] == "warp"


def test_the_lips_follow_the_new_speech_not_the_old(source: Path, dubbed) -> None:
    """`avatar eval`'s measures (dlib re-fitted on the output frames) against the new speech's phones, for the dubbed
    video and, as the baseline, for the source video whose mouth says the old sentence."""
    from models.audio.io import SAMPLE_RATE, load_audio
    from models.audio.phones import phone_track

    out, _ = dubbed
    audio = load_audio(out, SAMPLE_RATE)
    phones = phone_track(audio, SAMPLE_RATE, SECOND).phones
    dub, old = (evaluate(video, phones, audio, SAMPLE_RATE) for video in (out, source))
    assert dub.aperture_bilabial < 0.6 * old.aperture_bilabial  # the old mouth is open where the new one closes
    assert dub.bilabial_closure_rate >= old.bilabial_closure_rate + 0.3
    assert dub.aperture_open_vowel > 1.6 * dub.aperture_bilabial
    assert dub.offset_ms is not None and abs(dub.offset_ms) <= 80


def _controls(count: int):
    from models.audio.analysis import analyze_speech
    from models.control.rules import build_controls

    return build_controls(analyze_speech(None, SECOND).curves, "neutral", duration=count / FPS, fps=FPS)


def _render(source: Path, count: int, loop: str = "pingpong", face_index: int | None = None):
    """The warp dubbing renderer's frames in memory (before encoding), with the face source it used."""
    from models.face.video import load_video_face
    from models.render.dub import DubWarpRenderer

    controls = _controls(count)
    face = load_video_face(source, Fraction(FPS), count, loop, face_index, key_interval=10)
    return face, list(DubWarpRenderer().frames(face, controls, Path()))


def _lower_face(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Where the dubbing may change pixels: the lower face and below the jaw, generously."""
    from models.face.frame import FaceFrame

    frame = FaceFrame.of(points)
    chin = points[2:15] + frame.down * 0.6 * frame.mouth_width
    hull = cv2.convexHull(np.concatenate([points[1:16], points[29:36], chin]).astype(np.int32))
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return cv2.dilate(mask, np.ones((5, 5), np.uint8)).astype(bool)


@pytest.fixture(scope="module")
def warp_dub(source: Path, tmp_path_factory: pytest.TempPathFactory):
    """The first 60 frames of the source re-drawn by the warp dubbing renderer (in memory), with the face source
    it used and the source's own frames."""
    from core.settings import get_settings
    from models.media.reader import cfr_frames, probe_video

    count = 60
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AVATAR_DATA_DIR", str(tmp_path_factory.mktemp("warp-dub") / "data"))
        get_settings.cache_clear()
        face, frames = _render(source, count)
    get_settings.cache_clear()
    return face, frames, list(cfr_frames(source, probe_video(source), Fraction(FPS), 0, count))


def test_only_the_mouth_region_changes_and_faceless_frames_pass_through(warp_dub) -> None:
    face, frames, original = warp_dub
    count = len(frames)
    assert len(frames) == count and frames[0].shape == (SIZE, SIZE, 3)
    for i in range(BLACK):  # no face: untouched
        assert not face.track.present(i) and np.array_equal(frames[i], original[i])
    changed_mouths = 0
    for i in range(BLACK, count):
        assert face.track.present(i)
        outside = ~_lower_face(face.track.points[i], frames[i].shape)
        assert np.array_equal(frames[i][outside], original[i][outside]), f"frame {i} changed outside the mouth"
        changed_mouths += int(np.abs(frames[i].astype(int) - original[i]).max() > 20)
    assert changed_mouths > (count - BLACK) // 2


def test_closing_the_mouth_leaves_the_collar_and_an_open_mouth_shows_the_frames_own_teeth(warp_dub) -> None:
    """Where the new speech closes a mouth the source has open, the chin stays over the collar (no dark band of
    collar dragged up over it) and the lips meet without the source's dark mouth between them; where it opens the
    mouth, the teeth are as bright as the source's own."""
    sys.path.insert(0, str(Path(__file__).parent))
    from dub_quality import dark_lip_share, jaw_smear, teeth_brightness

    face, frames, original = warp_dub
    count = len(frames)
    controls = _controls(count)
    talking = [i for i in range(BLACK, count) if face.track.present(i)]
    smear = [jaw_smear(original[i], frames[i], face.track.points[i]) for i in talking]
    assert max(smear) < 0.1  # the photo rig's chin lift: 0.33-0.55 of the band
    closed = [i for i in talking if controls.channels["lip_press"][i] > 0.5]
    assert len(closed) >= 5
    dark = np.mean([dark_lip_share(original[i], frames[i], face.track.points[i]) for i in closed])
    assert dark < 0.05  # the source's teeth and cavity between the closed lips: 0.096 before the lips were cleaned
    opened = [i for i in talking if controls.channels["jaw_open"][i] > 0.5 and controls.channels["lip_press"][i] < 0.2]
    assert len(opened) >= 3
    ratio = [teeth_brightness(frames[i], face.track.points[i]) / teeth_brightness(original[i], face.track.points[i])
             for i in opened]  # fmt: skip
    assert min(ratio) > 0.92  # synthetic teeth in the frame's light: 0.82-0.86


def test_a_cut_is_detected_and_the_face_found_again_in_the_new_shot(source: Path, data_dir) -> None:
    from models.face.track import track_faces
    from models.media.reader import cfr_frames, probe_video

    info = probe_video(source)
    cut = info.frames - SECOND_SHOT
    track = track_faces(cfr_frames(source, info, Fraction(FPS)), info.frames, None, key_interval=10)
    assert track.cuts == [BLACK, cut]
    assert cut in track.keys
    # after the cut the face is followed at its new (mirrored) place
    before, after = track.points[cut - 1], track.points[cut + 1]
    assert np.isfinite(after).all()
    nose_before, nose_after = before[30, 0], after[30, 0]
    assert abs(nose_after - (SIZE / 2 - 0.8 * (nose_before - SIZE / 2))) < 0.05 * SIZE


def test_trim_and_loop_policies(source: Path, tmp_path: Path, data_dir) -> None:
    from models.media.timeline import source_index

    trimmed = tmp_path / "trimmed.mp4"
    summary = generate_video(None, None, "Hi.", trimmed, {"trim": True}, show_progress=False, video=source)
    assert probe(trimmed)["frames"] == summary["controls"]["frames"] < probe(source)["frames"]
    resampled = tmp_path / "resampled.mp4"  # --fps resamples; the length follows the same policy
    summary = generate_video(None, None, "Hi.", resampled, {"trim": True, "fps": 10}, show_progress=False, video=source)
    info = probe(resampled)
    assert info["fps"] == 10 and info["frames"] == summary["controls"]["frames"] == round(summary["duration"] * 10)
    assert source_index(7, 4, "pingpong").tolist() == [0, 1, 2, 3, 2, 1, 0]
    assert source_index(7, 4, "repeat").tolist() == [0, 1, 2, 3, 0, 1, 2]
    assert source_index(7, 4, "freeze").tolist() == [0, 1, 2, 3, 3, 3, 3]


def test_pingpong_plays_the_video_backwards_after_its_end(source: Path, data_dir) -> None:
    from models.media.reader import FrameSource, probe_video

    info = probe_video(source)
    frames = FrameSource(source, info, Fraction(FPS))
    n = info.frames
    forward = list(frames.frames(range(n)))
    back = list(frames.frames([n - 1, n - 2, n - 3, 5, 4]))
    for got, index in zip(back, [n - 1, n - 2, n - 3, 5, 4], strict=True):
        assert np.array_equal(got, forward[index])


def test_cli_refuses_two_face_sources_and_a_video_without_a_face(source: Path, astronaut_png: Path, tmp_path, data_dir):
    import subprocess

    def generate(*face: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "cli.main", "generate", *face, "--text", "Hi.", "-o", str(tmp_path / "o.mp4")]
        return subprocess.run(command, capture_output=True, text=True)

    both = generate("--image", str(astronaut_png), "--video", str(source))
    assert both.returncode == 2 and "not both" in both.stderr
    dark = tmp_path / "dark.mp4"
    with VideoWriter(dark, fps=FPS, size=64) as writer:
        for _ in range(12):
            writer.write(np.zeros((64, 64, 3), np.uint8))
    faceless = generate("--video", str(dark))
    assert faceless.returncode == 2 and "No face found in any key frame of dark.mp4" in faceless.stderr


def test_wav2lip_dubs_each_frame_from_its_own_face_crop(source: Path, tmp_path: Path, data_dir) -> None:
    """The real Wav2Lip code on a random-weight checkpoint in the official layout: one frame out per frame in,
    faceless frames untouched, and nothing changed outside the mouth mask of each frame's own face box."""
    pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from checkpoints import random_wav2lip_checkpoint

    from models.audio.io import write_wav
    from models.face.video import load_video_face
    from models.media.reader import cfr_frames, probe_video
    from models.render.dub_wav2lip import DubWav2LipRenderer
    from models.render.wav2lip import face_box, mouth_mask
    from models.types import ControlTrack

    count = 30
    weights = random_wav2lip_checkpoint(tmp_path / "wav2lip_gan.pth")
    wav = tmp_path / "speech.wav"
    write_wav(wav, (0.3 * np.sin(np.arange(int(16_000 * count / FPS)) * 0.05)).astype(np.float32))
    face = load_video_face(source, Fraction(FPS), count, "pingpong", None, key_interval=10)
    controls = ControlTrack(FPS, {"jaw_open": np.zeros(count, np.float32)})
    frames = list(DubWav2LipRenderer(weights).frames(face, controls, wav))
    original = list(cfr_frames(source, probe_video(source), Fraction(FPS), 0, count))
    assert len(frames) == count
    for i in range(count):
        if not face.track.present(i):
            assert np.array_equal(frames[i], original[i])
            continue
        points = face.track.points[i]
        x1, y1, x2, y2 = box = face_box(points, frames[i].shape)
        changeable = np.zeros(frames[i].shape[:2], bool)
        changeable[y1:y2, x1:x2] = mouth_mask(points, box)[..., 0] > 0
        assert np.array_equal(frames[i][~changeable], original[i][~changeable])
        assert np.abs(frames[i][changeable].astype(int) - original[i][changeable]).max() > 20  # it drew


def test_keep_audio_mixes_the_video_sound_under_the_speech(source: Path, tmp_path: Path, data_dir) -> None:
    """A short sentence over a longer video with sound: after the speech ends the output is silent, unless
    --keep-audio keeps the video's own sound under it."""
    from models.audio.io import decode_audio
    from models.audio.tts import synthesize
    from models.media.video import mux

    with_sound = tmp_path / "with_sound.mp4"
    mux(source, synthesize(FIRST, tmp_path / "first.wav"), with_sound)
    tail = {}
    for keep in (False, True):
        out = tmp_path / f"keep_{keep}.mp4"
        generate_video(None, None, "Hi.", out, {"keep_audio": keep}, show_progress=False, video=with_sound)
        audio = decode_audio(out, 16_000)  # not load_audio: its speech check refuses a mostly silent track
        tail[keep] = float(np.sqrt(np.mean(audio[int(0.8 * 16_000) : int(2.0 * 16_000)] ** 2)))
    assert tail[False] < 1e-3 < 0.01 < tail[True]


def test_face_index_picks_the_person_and_leaves_the_other_untouched(
    source: Path, grace_hopper_jpg: Path, tmp_path: Path, data_dir
) -> None:
    """Two people side by side (the talking astronaut, and Grace Hopper smaller): --face-index 1 re-voices Grace
    Hopper only; the astronaut's half of every frame stays as it was."""
    from PIL import Image

    from models.media.reader import cfr_frames, probe_video

    grace = np.asarray(Image.open(grace_hopper_jpg).convert("RGB"))
    grace = cv2.resize(grace[40:440, 60:460], (150, 150), interpolation=cv2.INTER_AREA)
    right = np.full((SIZE, SIZE, 3), 200, np.uint8)
    right[20:170, 20:170] = grace
    pair = tmp_path / "pair.mp4"
    with VideoWriter(pair, fps=FPS, size=(2 * SIZE, SIZE), crf=16) as writer:
        for frame in list(read_frames(source))[BLACK : BLACK + 30]:
            writer.write(np.hstack([frame, right]))
    face, frames = _render(pair, 30, face_index=1)
    assert face.track.faces_seen == 2
    assert (face.track.points[:, 30, 0] > SIZE).all()  # the nose of the followed face is in the right half
    original = list(cfr_frames(pair, probe_video(pair), Fraction(FPS), 0, 30))
    for frame, before in zip(frames, original, strict=True):
        assert np.array_equal(frame[:, :SIZE], before[:, :SIZE])
    assert max(np.abs(f[:, SIZE:].astype(int) - b[:, SIZE:]).max() for f, b in zip(frames, original, strict=True)) > 20
