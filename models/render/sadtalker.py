"""SadTalker renderer: reports honestly whether it could run here; its inference is not part of this build."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import BackendUnavailable
from models.backends import neural_availability
from models.device import cuda_available
from models.render.base import FrameRenderer
from models.types import Availability, ControlTrack, Resource

if TYPE_CHECKING:
    from models.face.analysis import FaceAnalysis

NOT_IMPLEMENTED = "SadTalker inference is not implemented in this build; falling back"


class SadTalkerRenderer(FrameRenderer):
    name = "sadtalker"
    resource: Resource = "gpu"

    def available(self) -> Availability:
        present = neural_availability(self.name)
        if not present.ok:
            return present
        if not cuda_available():
            return Availability(False, "sadtalker needs a CUDA device")
        return Availability(False, NOT_IMPLEMENTED)

    def frames(self, face: FaceAnalysis, controls: ControlTrack, audio_wav: Path) -> Iterator[np.ndarray]:
        raise BackendUnavailable(NOT_IMPLEMENTED)
