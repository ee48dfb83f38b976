"""The Mistral controller's reply checking, on canned replies (no network in tests)."""

from __future__ import annotations

import json

import pytest

from models.control.mistral import mistral_directions, parse_directions

GOOD = {"emotion": "happy", "intensity": 0.7, "nod_rate": 0.5, "brow_emphasis_words": ["really", "great"]}


def test_a_well_formed_reply_is_accepted():
    assert parse_directions(json.dumps(GOOD)) == GOOD
    assert parse_directions(json.dumps(GOOD | {"intensity": 1}))["intensity"] == 1.0


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("Sure! Here are the directions: {...}", "not JSON"),
        (json.dumps([GOOD]), "not a JSON object"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "nod_rate"}), "missing \\['nod_rate'\\]"),
        (json.dumps(GOOD | {"camera": "zoom"}), "unexpected \\['camera'\\]"),
        (json.dumps(GOOD | {"emotion": "ecstatic"}), "emotion 'ecstatic'"),
        (json.dumps(GOOD | {"intensity": 1.5}), "intensity 1.5"),
        (json.dumps(GOOD | {"intensity": "high"}), "intensity 'high'"),
        (json.dumps(GOOD | {"nod_rate": True}), "nod_rate True"),
        (json.dumps(GOOD | {"brow_emphasis_words": "really"}), "brow_emphasis_words"),
        (json.dumps(GOOD | {"brow_emphasis_words": [str(i) for i in range(9)]}), "at most 8"),
    ],
)
def test_malformed_replies_are_rejected_with_the_reason(reply: str, problem: str):
    with pytest.raises(ValueError, match=problem):
        parse_directions(reply)


def test_no_key_means_no_request_and_a_recorded_reason(monkeypatch: pytest.MonkeyPatch):
    from core.settings import get_settings

    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    get_settings.cache_clear()
    notes: list[str] = []
    assert mistral_directions("Hello there", "neutral", notes) is None
    assert notes == ["mistral: no MISTRAL_API_KEY set; using the rule-based controller"]
    get_settings.cache_clear()


@pytest.mark.parametrize("emotion", ["fearful", "disgusted"])
def test_only_emotions_the_avatar_can_show_are_taken(emotion: str):
    """An emotion the controller cannot render would be recorded as the job's emotion but drawn as neutral."""
    with pytest.raises(ValueError, match=f"emotion '{emotion}'"):
        parse_directions(json.dumps(GOOD | {"emotion": emotion}))


def test_every_emotion_has_a_pose_and_the_track_records_the_one_shown():
    import numpy as np

    from models.control.rules import EMOTION_POSE, build_controls
    from models.types import EMOTIONS, MouthCurves

    assert tuple(EMOTION_POSE) == EMOTIONS
    flat = np.zeros(100, np.float32)
    curves = MouthCurves(100, flat, flat, flat, flat, flat, flat)
    for emotion in EMOTIONS:
        track, _ = build_controls(curves, emotion=emotion, duration=1.0, fps=25)
        assert track.emotion == emotion
        assert track.channels["smile"][0] == pytest.approx(EMOTION_POSE[emotion][0], abs=0.2)
