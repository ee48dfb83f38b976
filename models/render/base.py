"""What every renderer shares: frames in, written to the sink one by one, with progress and a report."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from models.types import Availability, ControlTrack, FrameSink, RenderReport, Resource


class FrameRenderer:
    """A renderer says how to make its frames (`frames`); `render` (the Renderer protocol) streams them."""

    name: str
    resource: Resource

    def available(self) -> Availability:
        raise NotImplementedError

    def frames(self, face: Any, controls: ControlTrack, audio_wav: Path) -> Iterator[np.ndarray]:
        """One RGB frame per control frame, in order."""
        raise NotImplementedError

    def notes(self) -> list[str]:
        """What the user should know about this renderer's result."""
        return []

    def render(
        self,
        face: Any,
        controls: ControlTrack,
        audio_wav: Path,
        sink: FrameSink,
        progress: Callable[[int, int], None] | None = None,
    ) -> RenderReport:
        started = time.perf_counter()
        frames, total, written = self.frames(face, controls, audio_wav), controls.n_frames, 0
        for written, frame in enumerate(frames, start=1):  # noqa: B007 - the count is the report's
            sink.write(frame)
            if progress is not None:
                progress(written, total)
        return RenderReport(self.name, written, time.perf_counter() - started, self.notes())
