"""Lip sync measured on the output by re-detecting the mouth (`avatar eval`), on voices and sentences not tuned on."""

from __future__ import annotations

import pytest

from cli.generate import generate_video
from models.audio.tts import synthesize
from models.eval.lipsync import CLOSED, evaluate_video

SENTENCE = "Bob and Pam bought a big blue map. Maybe we can meet by the bay in May."
FRAME_MS = 40  # one frame at 25 fps


@pytest.mark.parametrize(
    ("voice", "with_transcript"),
    [("en-gb-x-rp+f2", True), ("en-029+m2", False)],  # alignment path; acoustic classifier on a held-out accent
)
def test_lips_close_on_bilabials_open_on_vowels_and_stay_in_sync(
    voice, with_transcript, astronaut_png, data_dir, tmp_path
):
    speech = synthesize(SENTENCE, tmp_path / "speech.wav", voice=voice, words_per_minute=150)
    out = tmp_path / "out.mp4"
    summary = generate_video(
        astronaut_png, speech, SENTENCE if with_transcript else None, out, {"size": 320}, show_progress=False
    )
    assert summary["backends"]["audio_processing"] == ("phones: alignment" if with_transcript else "phones: classifier")

    report = evaluate_video(out, SENTENCE)
    assert report.frames_with_face == report.frames
    assert report.bilabial_closure_rate >= 0.8
    assert report.aperture_bilabial < CLOSED
    assert report.aperture_open_vowel > 3 * report.aperture_bilabial
    assert abs(report.offset_ms) <= FRAME_MS


def test_silence_keeps_the_lips_closed(astronaut_png, data_dir, tmp_path):
    import numpy as np

    from models.audio.io import load_audio, write_wav

    speech = load_audio(synthesize("Hello.", tmp_path / "hello.wav"), 16_000)
    padded = np.concatenate([np.zeros(16_000, np.float32), speech, np.zeros(24_000, np.float32)])
    write_wav(tmp_path / "padded.wav", padded)
    out = tmp_path / "out.mp4"
    generate_video(astronaut_png, tmp_path / "padded.wav", "Hello.", out, {"size": 320}, show_progress=False)
    report = evaluate_video(out, "Hello.")
    assert report.aperture_silence < CLOSED
