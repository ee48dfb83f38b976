"""The live engine against the offline path on the same espeak-ng speech: same frame count, same mouth."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.audio.io import decode_audio, resample
from models.audio.phones import phone_track
from models.audio.prosody import prosody
from models.audio.viseme_classifier import mel_frames
from models.audio.visemes import mouth_curves
from models.control.rules import build_controls
from models.face.analysis import analyze_face
from models.stream.engine import StreamEngine

FPS = 25


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    # the espeak-ng program, a fresh engine per call: the library in this process keeps state between utterances,
    # so its audio would depend on which tests spoke before
    wav = tmp_path_factory.mktemp("s") / "s.wav"
    text = "Hello world. Bob bought a map."
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "-w", str(wav), text], check=True)
    return np.concatenate([np.zeros(8000, np.float32), decode_audio(wav, 16_000)])


@pytest.fixture(scope="module")
def face(astronaut_png: Path):
    return analyze_face(np.asarray(Image.open(astronaut_png).convert("RGB")), size=128)


def pcm(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


def stream(
    face, data: bytes, chunk: int, sample_rate: int = 16_000, lookahead: float | None = None
) -> list[dict[str, float]]:
    controls = []
    with StreamEngine(face, FPS, sample_rate, lookahead=lookahead) as engine:
        for offset in range(0, len(data), chunk):
            engine.feed(data[offset : offset + chunk])
            while engine.ready():
                controls.append(engine.next_frame().controls)
        engine.end()
        while engine.ready():
            controls.append(engine.next_frame().controls)
    return controls


def jaw(controls: list[dict[str, float]]) -> np.ndarray:
    return np.array([c["jaw_open"] for c in controls])


def test_live_features_equal_the_offline_ones_frame_for_frame(speech, face):
    with StreamEngine(face, FPS) as engine:
        data = pcm(speech)
        for offset in range(0, len(data), 1234):
            engine.feed(data[offset : offset + 1234])
        live = engine.audio.logmel[:]
    offline, _ = mel_frames(np.frombuffer(data, "<i2").astype(np.float32) / 32768)
    assert len(live) > 0.95 * len(offline)
    assert np.allclose(live[2:], offline[2 : len(live)], atol=1e-3)


# On this sentence the jaw correlates 0.89-0.91 at a 200 ms lookahead and about 0.89 at the default 100 ms (it
# moves by 0.01 with the tests run before it in the same process); over three voices benchmarks/stream_latency.py
# measures 0.91 and 0.95.
@pytest.mark.parametrize("lookahead", [0.2, None])
def test_the_live_mouth_follows_the_offline_controller(speech, face, lookahead):
    live = stream(face, pcm(speech), 640, lookahead=lookahead)
    duration = len(speech) / 16_000
    curves = mouth_curves(phone_track(speech), prosody(speech), duration)
    offline = build_controls(curves, "neutral", duration, FPS)
    assert len(live) == offline.n_frames
    assert np.corrcoef(jaw(live), offline.channels["jaw_open"])[0, 1] > 0.85
    assert jaw(live)[: int(0.4 * FPS)].max() < 0.05  # silent lead-in: mouth closed
    press = np.array([c["lip_press"] for c in live])
    assert press.max() > 0.8  # "Bob bought a map": the lips close on the bilabials
    # in speech as offline (the same rule on the same loudness), easing in a little later with less audio ahead
    speaking = np.array([c["speaking"] for c in live])
    assert speaking[: int(0.3 * FPS)].max() < 0.01 and speaking.max() > 0.99  # silent lead-in, then speech
    off = speaking - offline.channels["speaking"]
    assert np.mean(np.abs(off) < 0.05) > 0.9, np.round(off, 2)


def test_chunk_size_and_sample_rate_do_not_change_the_performance(speech, face):
    reference = jaw(stream(face, pcm(speech), 640))
    odd_chunks = jaw(stream(face, pcm(speech), 333))

    at_48k = jaw(stream(face, pcm(resample(speech, 16_000, 48_000)), 1920, sample_rate=48_000))
    assert len(odd_chunks) == len(reference) and abs(len(at_48k) - len(reference)) <= 1
    assert np.abs(odd_chunks - reference).max() < 0.1
    n = min(len(at_48k), len(reference))
    assert np.corrcoef(at_48k[:n], reference[:n])[0, 1] > 0.9


def test_an_empty_stream_still_shows_one_still_frame(face):
    with StreamEngine(face, FPS) as engine:
        engine.end()
        assert engine.total_frames == 1 and engine.ready()
        frame = engine.next_frame()
        assert frame.rgb.shape == (128, 128, 3) and frame.controls["jaw_open"] == 0.0
        assert not engine.ready()


def test_with_emotion_auto_the_live_face_follows_the_voice(face, tmp_path):
    """Cheerful speech (fast, high, loud) then sad speech (slow, low, soft), a pause between: after each phrase the
    expression blends into what its voice sounded like; a stream with a set emotion keeps it."""
    from tests.unit.test_emotion import espeak

    parts = [
        decode_audio(espeak(text, tmp_path / f"{i}.wav", voice, rate, pitch, volume), 16_000)
        for i, (text, voice, rate, pitch, volume) in enumerate(
            [
                ("What a wonderful day! This is great news!", "en-us+f3", "x-fast", "x-high", "loud"),
                ("I miss her so much. Nothing is the same.", "en-us", "x-slow", "x-low", "soft"),
            ]
        )
    ]
    silence = np.zeros(16_000, np.float32)
    audio = np.concatenate([parts[0], silence, parts[1], silence])
    with StreamEngine(face, FPS, emotion="auto") as engine:
        data = pcm(audio)
        for offset in range(0, len(data), 640):
            engine.feed(data[offset : offset + 640])
            while engine.ready():
                engine.next_frame()
        shown = [d.emotion for d in engine.motion.performance.phrases]
    assert shown[0] == "neutral" and shown[1] in ("happy", "surprised") and shown[-1] == "sad", shown
    with StreamEngine(face, FPS, emotion="happy") as engine:
        engine.feed(pcm(audio))
        while engine.ready():
            engine.next_frame()
        assert engine.motion.performance.phrases == [] and engine.motion.performance.emotion == "happy"
