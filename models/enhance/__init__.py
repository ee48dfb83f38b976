"""Frame enhancers (face restoration after rendering) and the choice among them."""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

from models.types import Availability


class Enhancer(Protocol):
    name: str
    resource: Literal["cpu", "gpu"]

    def available(self) -> Availability: ...

    def enhance(self, frame_rgb: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray: ...


def select_enhancer(name: str) -> tuple[Enhancer | None, str]:
    """The enhancer for settings.enhancer (auto|none|gfpgan), or None, with the reason for the choice.

    auto picks GFPGAN only with its weights and a CUDA device: on a CPU it costs about a second per frame.
    """
    from models.device import cuda_available
    from models.enhance.gfpgan import GFPGANEnhancer

    if name == "none":
        return None, "enhancer off (none)"
    if name not in ("auto", "gfpgan"):
        raise ValueError(f"unknown enhancer {name!r}; choose auto, none or gfpgan")
    gfpgan = GFPGANEnhancer()
    status = gfpgan.available()
    if not status.ok:
        return None, f"gfpgan skipped: {status.reason}"
    if name == "auto" and not cuda_available():
        return (
            None,
            "gfpgan skipped: no CUDA device (auto enables it on GPU only; set AVATAR_ENHANCER=gfpgan)",
        )
    return gfpgan, status.reason
