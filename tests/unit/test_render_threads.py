"""Frames made on several threads, or in forked processes, are the frames made on one, in the same order, with
bounded memory; a failing or dying frame maker fails the render and leaves no process behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.audio.analysis import analyze_speech
from models.control.rules import build_controls
from models.render import base
from models.render.base import in_order
from models.render.forked import RenderProcessError, in_order_forked
from models.render.warp import WarpRenderer

SENTENCE = "Please blink and smile while the bright moon rises over the quiet harbour."


@pytest.fixture(scope="module")
def speech_controls():
    speech = analyze_speech(None, SENTENCE)
    return build_controls(speech.curves, "happy", speech.duration, 25, seed=3)


@pytest.fixture(params=["threads", "processes"])
def parallel(request, monkeypatch: pytest.MonkeyPatch) -> str:
    from core.settings import get_settings

    monkeypatch.setattr(get_settings(), "render_processes", request.param == "processes")
    return request.param


def test_parallel_frames_equal_single_threaded(
    astronaut_face, speech_controls, frame_list, tone_wav: Path, parallel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made_here: list[int] = []
    renderer = WarpRenderer()
    maker = renderer.frame_maker

    def counted(*args):
        make = maker(*args)
        return lambda i: made_here.append(i) or make(i)

    monkeypatch.setattr(renderer, "frame_maker", counted)
    renderer.render(astronaut_face, speech_controls, tone_wav, frame_list, threads=1)
    single = frame_list.frames
    made_here.clear()
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
        assert different == [], f"{threads} {parallel}: frames {different} differ from the single-threaded render"
        # in processes only the first frame is made in this one (it sizes the shared memory)
        assert len(made_here) == (1 if parallel == "processes" else len(single)), made_here[:5]
        made_here.clear()


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


def _children() -> set[int]:
    return {int(pid) for pid in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()}


@pytest.fixture
def children_before() -> set[int]:
    return _children()  # helpers of other tests (espeak-ng's) live on


def test_forked_frames_come_in_order_from_several_processes(children_before: set[int]) -> None:
    frames = list(in_order_forked(lambda i: np.array([i, os.getpid()]), 40, processes=3))
    assert [int(f[0]) for f in frames] == list(range(40))
    makers = {int(f[1]) for f in frames}
    assert os.getpid() in makers and len(makers) == 4  # frame 0 here, then three processes
    assert _children() == children_before


def test_a_slow_consumer_gets_the_last_frames_of_processes_that_have_left(children_before: set[int]) -> None:
    # each process makes its last two frames ahead of the consumer and leaves: freeing a slot for a frame no process
    # will make wrote to a pipe whose reader was gone, and the render failed with a broken pipe
    got = []
    for frame in in_order_forked(lambda i: np.full(3, i), 12, processes=2):
        got.append(int(frame[0]))
        time.sleep(0.05)
    assert got == list(range(12))
    assert _children() == children_before


def test_a_failing_frame_in_a_process_fails_the_render_with_its_traceback(children_before: set[int]) -> None:
    def make(i: int) -> np.ndarray:
        if i == 5:
            raise ValueError("frame 5 is broken")
        return np.zeros(4)

    with pytest.raises(RenderProcessError, match="(?s)making frame 5 failed.*ValueError: frame 5 is broken"):
        list(in_order_forked(make, 1000, processes=2))
    assert _children() == children_before


def test_a_render_process_that_dies_fails_the_render(children_before: set[int]) -> None:
    def make(i: int) -> np.ndarray:
        if i == 7:
            os._exit(3)  # as if killed: no message
        return np.zeros(4)

    with pytest.raises(RenderProcessError, match="frame 7 died"):
        list(in_order_forked(make, 100, processes=2))
    assert _children() == children_before


def test_a_consumer_that_stops_early_leaves_no_render_process(children_before: set[int]) -> None:
    frames = in_order_forked(lambda i: np.full(3, i), 10_000, processes=2)
    assert [int(next(frames)[0]) for _ in range(5)] == [0, 1, 2, 3, 4]
    assert len(_children() - children_before) == 2
    frames.close()
    assert _children() == children_before


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_a_fork_that_fails_leaves_the_frames_made_here(children_before: set[int], monkeypatch, caplog) -> None:
    fds_before = _open_fds()
    real_fork, forks = os.fork, []

    def second_fork_fails() -> int:
        forks.append(1)
        if len(forks) == 2:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real_fork()

    monkeypatch.setattr(os, "fork", second_fork_fails)
    frames = list(in_order_forked(lambda i: np.array([i, os.getpid()]), 30, processes=2))
    assert [int(f[0]) for f in frames] == list(range(30))
    assert {int(f[1]) for f in frames} == {os.getpid()}  # the one process started was stopped before its frames
    assert "could not start a render process" in caplog.text
    assert _children() == children_before
    assert _open_fds() == fds_before  # the failed start's pipes closed too


@pytest.mark.timeout(120)
def test_a_process_forked_after_a_pool_thread_decoded_video_makes_its_frames(
    children_before: set[int], monkeypatch, caplog, tmp_path: Path
) -> None:
    """A pool thread that read a video (a dubbed video's frames, a server's earlier job) kept PyAV's scaler with
    threads of its own; every process forked afterwards hung as CPython freed that scaler in it, and the render
    waited for it for ever (a fresh CI run, 25 minutes). Decoded on one thread (media.video.rgb_array), the
    processes make their frames."""
    from concurrent.futures import ThreadPoolExecutor

    from models.media.video import VideoWriter, read_frames
    from models.render import forked

    video = tmp_path / "clip.mp4"
    with VideoWriter(video, 25, 128) as writer:
        for i in range(3):
            writer.write(np.full((128, 128, 3), 60 * i, np.uint8))
    monkeypatch.setattr(forked, "STALL_S", 10.0)
    with ThreadPoolExecutor(1) as pool:  # its thread lives on through the render, as a server's do
        assert pool.submit(lambda: len(list(read_frames(video)))).result() == 3
        frames = list(in_order_forked(lambda i: np.array([i, os.getpid()]), 12, processes=2))
    assert [int(f[0]) for f in frames] == list(range(12))
    assert len({int(f[1]) for f in frames} - {os.getpid()}) == 2  # made by the two forked processes
    assert "made no frame" not in caplog.text
    assert _children() == children_before


@pytest.mark.timeout(120)
def test_a_render_process_that_makes_no_frame_is_ended_and_the_frames_made_here(
    children_before: set[int], monkeypatch, caplog
) -> None:
    """A process stuck in the fork (as above, or on a lock another thread held) is alive but makes nothing: the
    render waited for it for ever. After STALL_S without a frame the processes are ended and the rest made here."""
    from models.render import forked

    parent = os.getpid()

    def make(i: int) -> np.ndarray:
        if os.getpid() != parent:
            time.sleep(3600)  # stuck
        return np.array([i, os.getpid()])

    monkeypatch.setattr(forked, "STALL_S", 2.0)
    started = time.monotonic()
    frames = list(in_order_forked(make, 20, processes=2))
    assert [int(f[0]) for f in frames] == list(range(20))
    assert {int(f[1]) for f in frames} == {parent}
    assert "made no frame in 2 s: making the frames from 1 on in this one" in caplog.text
    assert time.monotonic() - started < 30
    assert _children() == children_before
