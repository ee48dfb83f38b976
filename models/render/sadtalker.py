"""SadTalker renderer: reports honestly whether it could run here; its inference is not part of this build."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import BackendUnavailable
from models.backends import neural_availability
from models.device import cuda_available
from models.types import Availability, ControlTrack, FrameSink, RenderReport, Resource

if TYPE_CHECKING:
    from models.face.analysis import FaceAnalysis

NOT_IMPLEMENTED = "SadTalker inference is not implemented in this build; falling back"


class SadTalkerRenderer:
    name = "sadtalker"
    resource: Resource = "gpu"

    def available(self) -> Availability:
        present = neural_availability(self.name)
        if not present.ok:
            return present
        if not cuda_available():
            return Availability(False, "sadtalker needs a CUDA device")
        return Availability(False, NOT_IMPLEMENTED)

    def render(
        self,
        face: FaceAnalysis,
        controls: ControlTrack,
        audio_wav: Path,
        sink: FrameSink,
        progress: Callable[[int, int], None] | None = None,
    ) -> RenderReport:
        raise BackendUnavailable(NOT_IMPLEMENTED)
