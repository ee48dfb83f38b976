"""Renderer registry: pick a backend, and fall back down the chain SadTalker -> Wav2Lip -> warp when one cannot run."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from models.types import Availability, Renderer

log = logging.getLogger(__name__)

# name -> "module:Class"; the chain order is the preference order of `auto`.
RENDERERS = {
    "sadtalker": "models.render.sadtalker:SadTalkerRenderer",
    "wav2lip": "models.render.wav2lip:Wav2LipRenderer",
    "warp": "models.render.warp:WarpRenderer",
}
CHAIN = tuple(RENDERERS)


@cache
def get_renderer(name: str) -> Renderer:
    if name not in RENDERERS:
        raise ValueError(f"unknown renderer {name!r}; choose one of auto, {', '.join(RENDERERS)}")
    module, cls = RENDERERS[name].split(":")
    return getattr(importlib.import_module(module), cls)()


def availability(name: str) -> Availability:
    try:
        return get_renderer(name).available()
    except ImportError as err:  # the `neural` extra (torch) is not installed
        return Availability(False, f"{name} needs the neural extra (pip install '.[neural]'): {err}")


def choose(requested: str) -> tuple[str, list[str]]:
    """The first available renderer from `requested` down the chain, and why the ones before it were skipped."""
    start = 0 if requested == "auto" else CHAIN.index(requested)
    skipped = []
    for name in CHAIN[start:]:
        status = availability(name)
        if status.ok:
            return name, skipped
        skipped.append(f"{name}: {status.reason}")
    raise RuntimeError("no renderer available")  # warp is always available


@dataclass
class RenderResult:
    backend: str
    requested: str
    frames: int
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if not self.skipped:
            return self.backend
        return f"{self.backend} ({'; '.join(self.skipped)} -> {self.backend})"


def render_with_fallback(
    requested: str,
    face: Any,
    controls: Any,
    audio_wav: Path,
    out: Path,
    progress: Callable[[int, int], None] | None = None,
) -> RenderResult:
    """Render `out` (a silent H.264 MP4) with `requested`, falling back down the chain on any backend failure."""
    from core.settings import get_settings
    from models.media.video import VideoWriter

    settings = get_settings()
    name, skipped = choose(requested)
    warnings = [f"renderer {s}" for s in skipped] if requested != "auto" else []
    while True:
        renderer = get_renderer(name)
        try:
            with VideoWriter(
                out,
                fps=controls.fps,
                size=face.image.shape[0],
                crf=settings.video_crf,
                preset=settings.video_preset,
            ) as sink:
                report = renderer.render(face, controls, audio_wav, sink, progress=progress)
            return RenderResult(name, requested, report.frames, skipped, warnings)
        except Exception as err:  # noqa: BLE001 - any backend failure falls back, and is recorded
            if name == CHAIN[-1]:
                raise
            log.warning("renderer %s failed: %s", name, err)
            skipped.append(f"{name} failed: {err}")
            warnings.append(f"renderer {name} failed ({err}); fell back")
            name, more = choose(CHAIN[CHAIN.index(name) + 1])
            skipped.extend(more)
