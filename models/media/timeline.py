"""Which source frame each output frame shows when a video is re-voiced: the length policy.

The output covers the longer of the video and the speech; `trim` cuts it to the shorter. When the speech runs
past the video's end the video goes on by `loop`: `pingpong` (forwards, backwards, forwards... no jump at the
seam, the default), `repeat` (from the start again: a jump at each seam) or `freeze` (the last frame held).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

LoopPolicy = Literal["pingpong", "repeat", "freeze"]
LOOP_POLICIES: tuple[LoopPolicy, ...] = ("pingpong", "repeat", "freeze")


def output_frames(source_frames: int, speech_frames: int, trim: bool) -> int:
    """Frames in the output: the longer of the two, or the shorter with `trim`."""
    return max(1, min(source_frames, speech_frames) if trim else max(source_frames, speech_frames))


def source_index(count: int, source_frames: int, loop: LoopPolicy) -> np.ndarray:
    """(count,) int: the source frame shown at each output frame."""
    k = np.arange(count)
    n = source_frames
    if n == 1:
        return np.zeros(count, np.int64)
    if loop == "repeat":
        return k % n
    if loop == "freeze":
        return np.minimum(k, n - 1)
    phase = k % (2 * n - 2)  # pingpong: 0 .. n-1, then n-2 .. 1
    return np.where(phase < n, phase, 2 * n - 2 - phase)
