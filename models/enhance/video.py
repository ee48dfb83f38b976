"""Run a frame enhancer over a rendered video (decode -> enhance -> encode), or pass the video on untouched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.backends import ENHANCERS, Choice


@dataclass
class EnhanceReport:
    enhancer: str
    output: Path | None  # None: nothing was done, use the input as it is
    reason: str = ""
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.enhancer} ({self.reason})" if self.reason else self.enhancer


def enhance_video(
    planned: Choice,
    src: Path,
    dst: Path,
    landmarks: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EnhanceReport:
    """`landmarks` (68x2, in the video's frame) align the face crop; without them the frame is taken as aligned."""
    from core.settings import get_settings
    from models.device import require_planned_cuda
    from models.media.video import VideoWriter, frame_rate, probe, read_frames

    if planned.name == "none":
        return EnhanceReport("none", None, planned.reason)
    enhancer = ENHANCERS.get(planned.name)
    info, settings = probe(src), get_settings()
    total = int(info["frames"])
    try:
        require_planned_cuda(enhancer.name, planned.needs_cuda)
        with VideoWriter(  # the rendered video's own rate and frame size (a dubbed video needs not be square)
            dst,
            fps=frame_rate(src),
            size=(info["width"], info["height"]),
            crf=settings.video_crf,
            preset=settings.video_preset,
        ) as sink:
            for i, frame in enumerate(read_frames(src)):
                sink.write(enhancer.enhance(frame, landmarks))
                if progress:
                    progress(i + 1, total)
    except Exception as err:  # noqa: BLE001 - a failed enhancer leaves the rendered video as the result
        return EnhanceReport(
            "none", None, f"{enhancer.name} failed: {err}", [f"enhancer {enhancer.name} failed: {err}"]
        )
    return EnhanceReport(enhancer.name, dst, planned.reason)
