"""The rule controller: closures survive resampling, lips lead the sound, blinks and motion are natural and seeded."""

import numpy as np
import pytest

from models.control.rules import ANTICIPATION, build_controls
from models.types import CONTROL_CHANNELS, MouthCurves

RATE = 100


def curves(duration: float, **segments: list[tuple[float, float, float]]) -> MouthCurves:
    n = int(duration * RATE)
    arrays = {k: np.zeros(n, np.float32) for k in ("open", "width", "round", "closed", "teeth", "energy")}
    for name, spans in segments.items():
        for start, end, value in spans:
            arrays[name][int(start * RATE) : int(end * RATE)] = value
    return MouthCurves(rate=RATE, **arrays)


def test_short_bilabial_closure_survives_25fps_and_closes_the_jaw():
    # "a-m-a": open vowel, a 60 ms closure, open vowel
    c = curves(
        2.0, open=[(0.5, 0.9, 0.9), (0.96, 1.4, 0.9)], closed=[(0.9, 0.96, 1.0)], energy=[(0.5, 1.4, 0.8)]
    )
    track, controller = build_controls(c, "neutral", duration=2.0, fps=25)
    assert controller == "rules"
    frame = int(round(0.93 * 25))
    assert track.channels["lip_press"][frame] > 0.9
    assert track.channels["jaw_open"][frame] < 0.1
    assert track.channels["jaw_open"][int(round(1.2 * 25))] > 0.6


def test_lips_move_before_the_sound_and_are_open_when_it_starts():
    c = curves(2.0, open=[(1.0, 1.6, 1.0)], energy=[(1.0, 1.6, 1.0)])
    track, _ = build_controls(c, "neutral", duration=2.0, fps=100)
    jaw = track.channels["jaw_open"]
    starts_moving = np.argmax(jaw > 0.05) / 100
    assert starts_moving == pytest.approx(1.0 - ANTICIPATION, abs=0.02)
    assert jaw[100] > 0.85  # fully open by the time the vowel sounds


def test_closure_starts_early_and_holds_to_the_end_of_the_consonant():
    c = curves(2.0, open=[(0.5, 0.9, 0.9), (1.0, 1.5, 0.9)], closed=[(0.9, 1.0, 1.0)], energy=[(0.5, 1.5, 0.8)])
    track, _ = build_controls(c, "neutral", duration=2.0, fps=100)
    press = track.channels["lip_press"]
    assert press[int((0.9 - ANTICIPATION) * 100) + 1] == 1.0
    assert press[98] == 1.0  # still closed at the end of the "m"
    assert press[102] == 0.0


def test_silence_keeps_the_mouth_closed_and_channels_complete():
    track, _ = build_controls(curves(3.0), "neutral", duration=3.0, fps=25)
    assert set(track.channels) == set(CONTROL_CHANNELS)
    assert track.n_frames == 75
    assert track.channels["jaw_open"].max() == 0.0


def test_blinks_are_natural_and_seeded():
    a, _ = build_controls(curves(30.0), "neutral", duration=30.0, fps=25, seed=1)
    b, _ = build_controls(curves(30.0), "neutral", duration=30.0, fps=25, seed=1)
    c, _ = build_controls(curves(30.0), "neutral", duration=30.0, fps=25, seed=2)
    blink = a.channels["blink"]
    onsets = np.flatnonzero((blink[1:] >= 0.99) & (blink[:-1] < 0.99))
    assert 5 <= len(onsets) <= 16  # one every 2-5.5 s
    assert np.array_equal(blink, b.channels["blink"])
    assert not np.array_equal(blink, c.channels["blink"])
    assert np.abs(a.channels["head_yaw"]).max() < 5.0  # gentle idle motion


def test_emotion_sets_smile_and_brows():
    happy, _ = build_controls(curves(2.0), "happy", duration=2.0, fps=25)
    sad, _ = build_controls(curves(2.0), "sad", duration=2.0, fps=25)
    surprised, _ = build_controls(curves(2.0), "surprised", duration=2.0, fps=25)
    assert happy.channels["smile"].mean() > 0.3 > sad.channels["smile"].mean()
    assert surprised.channels["brow_raise"].mean() > 0.5
    assert happy.emotion == "happy"


def test_track_round_trips_through_npz(tmp_path):
    track, _ = build_controls(curves(1.0, open=[(0.2, 0.6, 0.7)]), "angry", duration=1.0, fps=25)
    track.save(tmp_path / "c.npz")
    from models.types import ControlTrack

    back = ControlTrack.load(tmp_path / "c.npz")
    assert back.fps == 25 and back.emotion == "angry"
    assert np.allclose(back.channels["jaw_open"], track.channels["jaw_open"])
