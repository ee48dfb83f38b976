"""What every renderer shares: frames in, written to the sink one by one, with progress and a report."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from models.render.forked import can_fork, in_order_forked
from models.threads import single_threaded_opencv
from models.types import Availability, ControlTrack, FrameSink, RenderReport, Resource

AHEAD_PER_THREAD = 2  # frames made ahead of the sink per render thread: keeps them busy, memory stays flat


class FrameRenderer:
    """A renderer says how to make its frames: one at a time, independently (`frame_maker`, made on several
    threads at once), or as a stream (`frames`); `render` (the Renderer protocol) writes them to the sink."""

    name: str
    resource: Resource

    def available(self) -> Availability:
        raise NotImplementedError

    def frame_maker(self, face: Any, controls: ControlTrack, audio_wav: Path) -> Callable[[int], np.ndarray] | None:
        """For a renderer whose frames depend only on their own controls: a thread-safe function that makes
        RGB frame i. None (the default): the frames come from `frames`, in order, on one thread."""
        return None

    def frames(self, face: Any, controls: ControlTrack, audio_wav: Path) -> Iterator[np.ndarray]:
        """One RGB frame per control frame, in order."""
        make = self.frame_maker(face, controls, audio_wav)
        if make is None:
            raise NotImplementedError
        return map(make, range(controls.n_frames))

    def notes(self) -> list[str]:
        """What the user should know about this renderer's result."""
        return []

    def ran_on(self) -> dict[str, str]:
        """Where the last frames were made (RenderReport.ran_on): the CPU unless a neural renderer says otherwise."""
        return {"device": "cpu"}

    def render(
        self,
        face: Any,
        controls: ControlTrack,
        audio_wav: Path,
        sink: FrameSink,
        progress: Callable[[int, int], None] | None = None,
        threads: int | None = None,
    ) -> RenderReport:
        """Write every frame to `sink` in order; `threads` (default: the setting `render_threads`) make
        independent frames at once."""
        started = time.perf_counter()
        threads = threads or render_threads()
        make = self.frame_maker(face, controls, audio_wav) if threads > 1 else None
        total, written = controls.n_frames, 0
        if make is None:
            frames = self.frames(face, controls, audio_wav)
        elif render_processes():
            frames = in_order_forked(make, total, threads)
        else:
            frames = in_order(make, total, threads)
        for written, frame in enumerate(frames, start=1):  # noqa: B007 - the count is the report's
            sink.write(frame)
            if progress is not None:
                progress(written, total)
        return RenderReport(self.name, written, time.perf_counter() - started, self.notes(), self.ran_on())


def render_processes() -> bool:
    """Make independent frames in forked processes (the setting `render_processes`, where the OS can fork)."""
    from core.settings import get_settings

    return get_settings().render_processes and can_fork()


def render_threads() -> int:
    """Threads that make frames: the setting, or one per CPU this process may run on."""
    from core.settings import get_settings

    if threads := get_settings().render_threads:
        return threads
    if hasattr(os, "sched_getaffinity"):  # Linux: the CPUs this process may use (a container, taskset)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def in_order(make: Callable[[int], np.ndarray], total: int, threads: int) -> Iterator[np.ndarray]:
    """make(0) .. make(total - 1) on `threads` threads, yielded in order, at most AHEAD_PER_THREAD per thread
    made ahead of the consumer. OpenCV and NumPy release the GIL in their large operations, so the threads
    share the cores; OpenCV's own pool is held to one thread meanwhile (models.threads): its worker only took
    a core from them."""
    pool = ThreadPoolExecutor(threads, thread_name_prefix="render")
    pending: deque[Future[np.ndarray]] = deque()
    try:
        with single_threaded_opencv():
            for i in range(total):
                pending.append(pool.submit(make, i))
                if len(pending) >= threads * AHEAD_PER_THREAD:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
    finally:  # the consumer stopped or failed: drop the frames not started
        pool.shutdown(wait=True, cancel_futures=True)
