"""The detected emotion shows in the rendered video, measured by re-reading the face in the output frames."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from cli.generate import generate_video
from models.emotion.face import expression
from models.eval.lipsync import face_points
from models.media.video import read_frames
from tests.unit.test_emotion import CHEERFUL, SAD, espeak

QUESTION = "The train leaves at nine tonight. Are you coming with us?"


def expressions(video) -> list:
    """The face's expression in every frame of `video` (None where no face is found)."""
    return [expression(p) if p is not None else None for p in face_points(read_frames(video))]


def measured(video) -> dict[str, np.ndarray]:
    found = [e for e in expressions(video) if e is not None]
    return {
        "lift": np.array([e.mouth_corner_lift for e in found]),
        "brow": np.array([e.brow_height for e in found]),
        "roll": np.array([e.roll_deg for e in found]),
    }


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    folder = tmp_path_factory.mktemp("speech")
    return {
        "cheerful": espeak(CHEERFUL, folder / "cheerful.wav", "en-us+f3", "x-fast", "x-high", "loud"),
        "sad": espeak(SAD, folder / "sad.wav", "en-us+f3", "x-slow", "x-low", "soft"),
    }


def test_cheerful_and_sad_speech_render_different_faces(speech, grace_hopper_jpg, data_dir, tmp_path):
    runs = {}
    for mood, text in (("cheerful", CHEERFUL), ("sad", SAD)):
        out = tmp_path / f"{mood}.mp4"
        summary = generate_video(grace_hopper_jpg, speech[mood], text, out, {"size": 256, "seed": 1}, False)
        runs[mood] = summary | {"measured": measured(out)}
    cheerful, sad = runs["cheerful"], runs["sad"]
    assert (cheerful["emotion"], sad["emotion"]) == ("happy", "sad")
    assert [s["primary"] for s in cheerful["emotion_track"]] == ["happy"] * 3
    assert cheerful["emotion_detail"]["arousal"] > sad["emotion_detail"]["arousal"] + 0.5
    assert cheerful["performance"]["blink_rate"] > sad["performance"]["blink_rate"]
    # what the output frames show: corners lifted in the cheerful clip, a livelier head
    lift = {mood: float(np.median(r["measured"]["lift"])) for mood, r in runs.items()}
    # the sway is slow: over the same length of clip, averaged over 9 frames (the landmarks' frame-to-frame jitter)
    roll = {
        mood: float(np.std(np.convolve(r["measured"]["roll"][:75], np.ones(9) / 9, "valid")))
        for mood, r in runs.items()
    }
    assert lift["cheerful"] > lift["sad"] + 0.015, lift
    assert roll["cheerful"] > 1.5 * roll["sad"], roll


@pytest.mark.xfail(
    strict=True,
    reason="known gap (issue 8): after the renderer changes of this round, the question's brow_raise of 0.8 "
    "measures only ~+0.009 eye distances in the rendered frames (+0.025 before); the threshold is not met",
)
def test_a_question_raises_the_brows(grace_hopper_jpg, data_dir, tmp_path):
    """The same speech, its transcript ending in "?" or in ".": the brows rise at the end of the question."""
    # the espeak-ng program, a fresh engine: the in-process library's audio depends on what it said before
    speech = tmp_path / "question.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "-w", str(speech), QUESTION], check=True)
    brows = {}
    for ending in ("?", "."):
        out = tmp_path / f"out{ending}.mp4"
        summary = generate_video(grace_hopper_jpg, speech, QUESTION[:-1] + ending, out, {"size": 256, "seed": 1}, False)
        last = summary["emotion_track"][-1]
        assert last["question"] == (ending == "?")
        found = expressions(out)[int((last["end"] - 0.6) * summary["fps"]) : int((last["end"] + 0.3) * summary["fps"])]
        brows[ending] = float(np.median([e.brow_height for e in found if e is not None]))
    assert brows["?"] > brows["."] + 0.015, brows  # a brow_raise of 0.4 more lifts the brows ~0.025 eye distances


def test_a_smiling_photo_keeps_its_smile(speech, astronaut_png, grace_hopper_jpg, data_dir, tmp_path):
    """Sad speech frowns on a face at rest, but does not turn the astronaut's smile into a frown."""
    from models.face.load import load_face

    smiles = {}
    for name, photo in (("astronaut", astronaut_png), ("grace", grace_hopper_jpg)):
        out = tmp_path / f"{name}.mp4"
        summary = generate_video(photo, speech["sad"], SAD, out, {"size": 256, "seed": 1}, False)
        assert summary["emotion"] == "sad"
        rest = expression(load_face(photo, 256).landmarks).mouth_corner_lift
        smiles[name] = (summary["controls"]["smile_mean"], rest, float(np.median(measured(out)["lift"])))
    (astro_control, astro_rest, astro_out), (grace_control, _, _) = smiles["astronaut"], smiles["grace"]
    assert grace_control < astro_control - 0.05, smiles  # Grace smiles a little: her frown is damped, not gone
    assert astro_out > 0.9 * astro_rest, smiles
