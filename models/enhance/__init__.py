"""Frame enhancers (face restoration after rendering). They are chosen through models.backends.ENHANCERS."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from models.types import Availability, Resource


class Enhancer(Protocol):
    name: str
    resource: Resource

    def available(self) -> Availability: ...

    def enhance(self, frame_rgb: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray: ...


class NoEnhancer:
    """The rendered video goes on as it is (no decode, no re-encode)."""

    name = "none"
    resource: Resource = "cpu"

    def available(self) -> Availability:
        return Availability(True)

    def enhance(self, frame_rgb: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray:
        return frame_rgb
