"""Emotion from text and voice on clear-cut examples."""

from __future__ import annotations

import pytest

from models.emotion.detect import detect_emotion
from models.types import EMOTIONS

CALM = {"pitch_mean_hz": 120, "pitch_std_semitones": 2.5, "loudness_mean_db": -24, "speaking_rate_sps": 4.0}


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I am so happy to see you, this is wonderful!", "happy"),
        ("I hate this, it is stupid and unacceptable!", "angry"),
        ("I miss her so much, I feel lonely and sad.", "sad"),
        ("Wow, really? You did that?", "surprised"),
        ("The meeting is at three in room four.", "neutral"),
    ],
)
def test_text(text, label):
    result = detect_emotion(text, CALM)
    assert result.label == label
    assert result.source == "text+audio"
    assert set(result.scores) == set(EMOTIONS) and sum(result.scores.values()) == pytest.approx(1, abs=0.01)


def test_voice_alone():
    flat = {
        "pitch_mean_hz": 110,
        "pitch_std_semitones": 0.8,
        "loudness_mean_db": -36,
        "speaking_rate_sps": 2.5,
    }
    lively = {
        "pitch_mean_hz": 220,
        "pitch_std_semitones": 5.5,
        "loudness_mean_db": -18,
        "speaking_rate_sps": 5.5,
    }
    assert detect_emotion(None, flat).label == "sad"
    assert detect_emotion(None, lively).label in {"happy", "surprised", "angry"}
    assert detect_emotion(None, CALM).label == "neutral"
    assert detect_emotion(None, CALM).source == "audio"


def test_no_evidence_is_neutral():
    assert detect_emotion("", {}).label == "neutral"
    assert detect_emotion(None, {}).source == "default"
