"""Process-wide thread limits, held while any user needs them: the first user sets one, the last restores it.

- One BLAS thread while live streams run or speech is analysed. A stream multiplies small matrices a few times per
  frame; with BLAS spreading each product over every core while OpenCV's threads warp the frame, the two pools
  wait on each other and a frame took about 5x longer on two cores. The speech analysis runs its phone
  classifier beside voice activity, prosody and the AAC encode on threads of its own: BLAS's threads only
  contended with them (10 s of speech: 0.15 -> 0.08 CPU seconds, 0.08 -> 0.055 s of wall time on 2 cores).
- One OpenCV thread while video frames are made on several threads (models/render/base.py): the frames already
  share the cores, and OpenCV's pool worker spent the time it waited for work spinning.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class SharedLimit:
    """A process-wide setting made by `apply` (which returns how to undo it), counted across threads."""

    def __init__(self, apply: Callable[[], Callable[[], Any]]):
        self._apply = apply
        self._lock = threading.Lock()
        self._users = 0
        self._restore: Callable[[], Any] | None = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._restore = self._apply()
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._restore is not None:
                    self._restore()
                    self._restore = None


@functools.cache
def _blas() -> Any:
    """The BLAS libraries loaded at the first use, NumPy's among them (it loads its own with it): found once, a
    search of the process's libraries takes milliseconds."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def _one_blas_thread() -> Callable[[], Any]:
    return _blas().limit(limits=1).restore_original_limits


def _one_opencv_thread() -> Callable[[], Any]:
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    return lambda: cv2.setNumThreads(before)


single_threaded_blas = SharedLimit(_one_blas_thread)
single_threaded_opencv = SharedLimit(_one_opencv_thread)
