"""Voice activity and prosody on real espeak-ng speech and on signals with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from models.audio.espeak_lib import speak_with_phonemes
from models.audio.io import resample
from models.audio.prosody import prosody
from models.audio.vad import detect_speech

SR = 16_000


@pytest.fixture(scope="module")
def speech_with_pause() -> tuple[np.ndarray, tuple[float, float]]:
    """1 s silence, a sentence, 1 s silence; returns the audio and where the speech is."""
    s = speak_with_phonemes("Good morning, how are you doing today?", "en-us+m3")
    voice = resample(s.audio.astype(np.float32) / 32768, s.sample_rate)
    silence = np.zeros(SR, np.float32)
    return np.concatenate([silence, voice, silence]), (1.0, 1.0 + len(voice) / SR)


def test_vad_finds_the_speech_and_not_the_silence(speech_with_pause):
    audio, (start, end) = speech_with_pause
    activity = detect_speech(audio)
    assert len(activity.prob) == int(np.ceil(len(audio) / 512))
    assert activity.segments, "no speech found"
    assert abs(activity.segments[0][0] - start) < 0.15
    assert abs(activity.segments[-1][1] - end) < 0.3
    assert not activity.is_speech_at(np.array([0.2, 0.7, end + 0.5])).any()
    assert activity.is_speech_at(np.array([(start + end) / 2])).all()
    summary = activity.summary()
    assert summary["speech_s"] == pytest.approx(end - start, abs=0.4)
    assert summary["leading_silence_s"] == pytest.approx(1.0, abs=0.15)


def test_vad_hears_no_speech_in_noise_or_tones():
    rng = np.random.default_rng(0)
    t = np.arange(2 * SR) / SR
    for audio in (0.05 * rng.standard_normal(2 * SR), 0.3 * np.sin(2 * np.pi * 440 * t)):
        assert detect_speech(audio.astype(np.float32)).speech_seconds == 0.0


def test_pitch_of_a_tone_and_unvoiced_noise():
    t = np.arange(SR) / SR
    tone = prosody((0.4 * np.sin(2 * np.pi * 180 * t)).astype(np.float32))
    assert len(tone.pitch_hz) == 100
    assert np.median(tone.pitch_hz[5:-5]) == pytest.approx(180, rel=0.02)
    noise = prosody((0.2 * np.random.default_rng(1).standard_normal(SR)).astype(np.float32))
    assert (noise.pitch_hz > 0).mean() < 0.1


def test_prosody_follows_the_voice(speech_with_pause):
    audio, (start, end) = speech_with_pause
    p = prosody(audio)
    t = np.arange(len(p.loudness)) / p.rate
    assert p.loudness[(t > start + 0.2) & (t < end - 0.2)].mean() > 0.5
    assert p.loudness[t < start - 0.1].max() == 0.0
    summary = p.summary()
    assert 70 < summary["pitch_mean_hz"] < 250
    assert 2 < summary["speaking_rate_sps"] < 8
    low = speak_with_phonemes("Good morning, how are you doing today?", "en-us", pitch=10)
    high = speak_with_phonemes("Good morning, how are you doing today?", "en-us", pitch=90)
    f0 = [
        prosody(resample(s.audio.astype(np.float32) / 32768, s.sample_rate)).summary()["pitch_mean_hz"]
        for s in (low, high)
    ]
    assert f0[1] > f0[0] * 1.3
