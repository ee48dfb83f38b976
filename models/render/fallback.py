"""Render with the planned backend; when it fails, fall back down the chain (-> warp) and record why."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.backends import RENDERERS, Choice

log = logging.getLogger(__name__)


@dataclass
class RenderResult:
    choice: Choice  # the backend that made the video, and why (the plan's reason, plus any failures)
    frames: int
    notes: list[str] = field(default_factory=list)  # what the user should know about the result
    warnings: list[str] = field(default_factory=list)


def render_planned(
    planned: Choice,
    face: Any,
    controls: Any,
    audio_wav: Path,
    out: Path,
    progress: Callable[[int, int], None] | None = None,
) -> RenderResult:
    """Render `out` (a silent H.264 MP4) with the planned backend, falling back on any backend failure."""
    from core.settings import get_settings
    from models.media.video import VideoWriter

    settings = get_settings()
    choice, warnings = planned, []
    while True:
        try:
            with VideoWriter(
                out,
                fps=controls.fps,
                size=face.image.shape[0],
                crf=settings.video_crf,
                preset=settings.video_preset,
            ) as sink:
                report = RENDERERS.get(choice.name).render(face, controls, audio_wav, sink, progress=progress)
            return RenderResult(choice, report.frames, report.notes, warnings)
        except Exception as err:  # noqa: BLE001 - any backend failure falls back, and is recorded
            log.warning("renderer %s failed: %s", choice.name, err)
            failed = choice.name
            choice = RENDERERS.fall_back(choice, err)  # re-raises when the last backend (warp) failed
            warnings.append(f"renderer {failed} failed ({err}); fell back to {choice.name}")
