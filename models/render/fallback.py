"""Render with the planned backend; when it fails, fall back down the chain (-> warp) and record why."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from models.backends import RENDERERS, Choice, Registry
from models.face.analysis import FaceAnalysis

if TYPE_CHECKING:
    from models.face.video import VideoFace
    from models.types import ControlTrack

log = logging.getLogger(__name__)


@dataclass
class RenderResult:
    choice: Choice  # the backend that made the video, and why (the plan's reason, plus any failures)
    frames: int
    notes: list[str] = field(default_factory=list)  # what the user should know about the result
    warnings: list[str] = field(default_factory=list)
    ran_on: dict[str, str] = field(default_factory=dict)  # RenderReport.ran_on


def render_planned(
    planned: Choice,
    face: FaceAnalysis | VideoFace,
    controls: ControlTrack,
    audio_wav: Path,
    out: Path,
    progress: Callable[[int, int], None] | None = None,
    registry: Registry = RENDERERS,
) -> RenderResult:
    """Render `out` (a silent H.264 MP4) with the planned backend of `registry` (RENDERERS for a photo, DUBBERS for
    a video source), falling back on any backend failure."""
    from core.settings import get_settings
    from models.device import require_planned_cuda
    from models.media.video import VideoWriter

    settings = get_settings()
    choice, warnings = planned, []
    if isinstance(face, FaceAnalysis):  # a photo is rendered square at the controls' rate
        rate, size = controls.fps, face.size
    else:  # a video source keeps its own rate and frame size
        rate, size = face.rate, (face.width, face.height)
    while True:
        try:
            require_planned_cuda(choice.name, choice.needs_cuda)
            with VideoWriter(out, fps=rate, size=size, crf=settings.video_crf, preset=settings.video_preset) as sink:
                report = registry.get(choice.name).render(face, controls, audio_wav, sink, progress=progress)
            return RenderResult(choice, report.frames, report.notes, warnings, report.ran_on)
        except Exception as err:  # noqa: BLE001 - any backend failure falls back, and is recorded
            log.warning("renderer %s failed: %s", choice.name, err)
            failed = choice.name
            choice = registry.fall_back(choice, err)  # re-raises when the last backend (warp) failed
            warnings.append(f"renderer {failed} failed ({err}); fell back to {choice.name}")
