"""Frames made on several threads are the frames made on one, in the same order, with bounded memory."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from models.audio.analysis import analyze_speech
from models.control.rules import build_controls
from models.render import base
from models.render.base import in_order
from models.render.warp import WarpRenderer

SENTENCE = "Please blink and smile while the bright moon rises over the quiet harbour."


@pytest.fixture(scope="module")
def speech_controls():
    speech = analyze_speech(None, SENTENCE)
    return build_controls(speech.curves, "happy", speech.duration, 25, seed=3)


def test_parallel_frames_equal_single_threaded(astronaut_face, speech_controls, frame_list, tone_wav: Path) -> None:
    renderer = WarpRenderer()
    renderer.render(astronaut_face, speech_controls, tone_wav, frame_list, threads=1)
    single = frame_list.frames
    assert len(single) == speech_controls.n_frames > 50
    # the clip moves the mouth, blinks and moves the head: every step of the frame is compared
    assert speech_controls.channels["blink"].max() > 0.5 and np.ptp(speech_controls.channels["jaw_open"]) > 0.3
    for threads in (2, 3):
        progress: list[int] = []
        frame_list.frames = []
        report = renderer.render(
            astronaut_face, speech_controls, tone_wav, frame_list, lambda i, _, seen=progress: seen.append(i), threads
        )
        assert report.frames == len(single) and progress == list(range(1, len(single) + 1))
        pairs = enumerate(zip(single, frame_list.frames, strict=True))
        different = [i for i, (a, b) in pairs if not np.array_equal(a, b)]
        assert different == [], f"{threads} threads: frames {different} differ from the single-threaded render"


def test_in_order_keeps_order_and_runs_ahead_a_bounded_number_of_frames() -> None:
    started: list[int] = []

    def make(i: int) -> np.ndarray:
        started.append(i)
        return np.full(1, i)

    frames = in_order(make, 100, threads=3)
    assert int(next(frames)[0]) == 0
    assert len(started) <= 3 * base.AHEAD_PER_THREAD  # submitted, not all done: memory stays flat in length
    assert [int(f[0]) for f in frames] == list(range(1, 100))


def test_opencv_makes_each_frame_on_one_thread_while_frames_are_made_on_several() -> None:
    before = cv2.getNumThreads()
    frames = in_order(lambda i: np.full(1, cv2.getNumThreads()), 8, threads=2)
    assert [int(f[0]) for f in frames] == [1] * 8  # its pool's worker only took a core from the render threads
    assert cv2.getNumThreads() == before


def test_a_failing_frame_fails_the_render_and_stops_the_threads() -> None:
    started: list[int] = []

    def make(i: int) -> np.ndarray:
        started.append(i)
        if i == 5:
            raise ValueError("frame 5 is broken")
        return np.zeros(1)

    with pytest.raises(ValueError, match="frame 5"):
        list(in_order(make, 1000, threads=2))
    assert len(started) < 20
