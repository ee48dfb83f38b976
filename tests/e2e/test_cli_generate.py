"""The main job through the CLI, as a user runs it: golden runs on real photos, and bad inputs with their messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.audio.io import write_wav
from models.audio.tts import synthesize
from models.media.video import probe
from pipeline.graph import ORDER

AVATAR = [sys.executable, "-m", "cli.main"]


def avatar(*args: str, data_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = os.environ | {"AVATAR_DATA_DIR": str(data_dir)} | (env or {})
    return subprocess.run([*AVATAR, *args], capture_output=True, text=True, env=full_env, timeout=300)


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")  # one face cache for the module


def test_text_to_video_golden_run(astronaut_png, shared_data, tmp_path):
    out = tmp_path / "hello.mp4"
    run = avatar(
        "generate",
        "--image",
        str(astronaut_png),
        "--text",
        "Hello, my name is Bob. I buy maps.",
        "-o",
        str(out),
        "--size",
        "256",
        "--json",
        data_dir=shared_data,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    info = probe(out)
    assert summary["output"] == str(out.resolve())
    assert (info["width"], info["height"]) == (256, 256)
    assert info["video_codec"] == "h264" and info["pix_fmt"] == "yuv420p" and info["audio_codec"] == "aac"
    assert abs(info["video_duration"] - info["audio_duration"]) <= 1 / 25 + 1e-3
    assert summary["backend"] == "warp"
    assert "wav2lip weights missing" in summary["backend_reason"]  # why the neural backend was skipped
    assert summary["plan"]["renderer"]["reason"] == summary["backend_reason"]
    assert summary["render_device"] == {"device": "cpu"}  # the warp renderer: NumPy/OpenCV on the CPU
    assert set(summary["timings"]) == set(ORDER)  # every node ran (the order is pinned in test_pipeline_graph)
    assert summary["transcript_source"] == "given"
    assert abs(summary["controls"]["frames"] - info["frames"]) <= 1
    assert summary["controls"]["lips_closed_frames"] > 0  # "Bob", "my", "maps"
    assert summary["options"]["size"] == 256
    assert summary["emotion"] in {"neutral", "happy", "sad", "angry", "surprised"}


def test_audio_file_without_transcript(astronaut_png, shared_data, tmp_path):
    speech = synthesize("We will meet at the park on Monday.", tmp_path / "speech.wav", voice="en-us+m3")
    out = tmp_path / "audio.mp4"
    run = avatar(
        "generate",
        "-i",
        str(astronaut_png),
        "-a",
        str(speech),
        "-o",
        str(out),
        "--size",
        "256",
        "--emotion",
        "happy",
        "--json",
        data_dir=shared_data,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["emotion"] == "happy"
    assert summary["backends"]["audio_processing"] == "phones: classifier"
    assert abs(summary["duration"] - probe(speech)["audio_duration"]) < 0.05


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        ("missing_image", "does not exist"),
        ("no_face", "No face found"),
        ("garbage_image", "could not be read as an image"),
        ("silent_audio", "No speech found in silence.wav"),
        ("garbage_audio", "Could not decode bad.mp3"),
        ("no_speech", "Give the speech"),
    ],
)
def test_bad_inputs_exit_2_with_a_message(make_input, message, astronaut_png, cat_png, shared_data, tmp_path):
    image, audio = astronaut_png, None
    if make_input == "missing_image":
        image = tmp_path / "nope.jpg"
    elif make_input == "no_face":
        image = cat_png
    elif make_input == "garbage_image":
        image = tmp_path / "bad.png"
        image.write_bytes(os.urandom(2048))
    elif make_input == "silent_audio":
        audio = tmp_path / "silence.wav"
        write_wav(audio, np.zeros(32_000, np.float32))
    elif make_input == "garbage_audio":
        audio = tmp_path / "bad.mp3"
        audio.write_bytes(os.urandom(4096))
    args = ["generate", "-i", str(image), "-o", str(tmp_path / "x.mp4"), "--size", "256"]
    if audio is not None:
        args += ["-a", str(audio)]
    elif make_input != "no_speech":
        args += ["--text", "Hello there."]
    run = avatar(*args, data_dir=shared_data)
    assert run.returncode == 2, run.stderr
    assert message.lower() in run.stderr.lower()
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize(
    ("photo", "message"),
    [("cat", "No face found in the photo"), ("strip", "strip.png is 1x5000 pixels; send a photo at least 32")],
)
def test_an_unusable_photo_is_refused_before_the_audio_is_read(photo, message, cat_png, shared_data, tmp_path):
    # the audio is unreadable too: the photo's message shows that the photo was checked first, before the
    # audio step (which used to run, and say only what was wrong with the audio)
    image = cat_png
    if photo == "strip":
        image = tmp_path / "strip.png"
        Image.open(cat_png).resize((1, 5000)).save(image)
    audio = tmp_path / "bad.mp3"
    audio.write_bytes(os.urandom(4096))
    run = avatar("generate", "-i", str(image), "-a", str(audio), "-o", str(tmp_path / "x.mp4"), data_dir=shared_data)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr
    assert "bad.mp3" not in run.stderr


def test_audio_over_the_limit_is_refused(astronaut_png, shared_data, tmp_path):
    audio = tmp_path / "long.wav"
    write_wav(audio, np.random.default_rng(0).normal(0, 0.1, 16_000 * 3).astype(np.float32))
    run = avatar(
        "generate",
        "-i",
        str(astronaut_png),
        "-a",
        str(audio),
        "-o",
        str(tmp_path / "x.mp4"),
        data_dir=shared_data,
        env={"AVATAR_MAX_AUDIO_SECONDS": "2"},
    )
    assert run.returncode == 2
    assert "AVATAR_MAX_AUDIO_SECONDS" in run.stderr


def test_unknown_backend_is_a_usage_error(astronaut_png, shared_data, tmp_path):
    run = avatar(
        "generate",
        "-i",
        str(astronaut_png),
        "--text",
        "Hi",
        "-o",
        str(tmp_path / "x.mp4"),
        "--backend",
        "magic",
        data_dir=shared_data,
    )
    assert run.returncode == 2
    assert "magic" in run.stderr and "warp" in run.stderr


def test_rotated_rgba_photo_works(astronaut_png, shared_data, tmp_path):
    # a photo stored sideways with an EXIF orientation tag, saved as RGBA WebP
    img = Image.open(astronaut_png).convert("RGBA").rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": undoes the 90 CCW rotation
    path = tmp_path / "sideways.webp"
    img.save(path, exif=exif)
    run = avatar(
        "generate",
        "-i",
        str(path),
        "--text",
        "Good morning.",
        "-o",
        str(tmp_path / "r.mp4"),
        "--size",
        "192",
        "--json",
        data_dir=shared_data,
    )
    assert run.returncode == 0, run.stderr
    assert probe(tmp_path / "r.mp4")["width"] == 192


def test_golden_run_on_a_second_real_photo(grace_hopper_jpg, shared_data, tmp_path):
    out = tmp_path / "grace.mp4"
    run = avatar(
        "generate",
        "-i",
        str(grace_hopper_jpg),
        "--text",
        "Mind the bug, it might be a moth.",
        "-o",
        str(out),
        "--size",
        "320",
        "--json",
        data_dir=shared_data,
    )
    assert run.returncode == 0, run.stderr
    from models.eval.lipsync import evaluate_video

    report = evaluate_video(out, "Mind the bug, it might be a moth.")
    assert report.frames_with_face == report.frames
    assert report.bilabial_closure_rate >= 0.8
    assert report.aperture_open_vowel > 2 * report.aperture_bilabial
