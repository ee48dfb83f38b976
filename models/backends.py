"""The backend registry: renderers and enhancers, registered the same way and chosen by one rule.

A backend declares `name`, `resource` ("cpu" | "gpu") and `available()`. A registry lists its backends in
fallback order; `choose(requested)` walks that order from the requested one (or from the top of the `auto` order)
and returns a `Choice`: the backend that will run, its resource class (which decides the worker queue), why, and
what was tried before it. The choice is stored in the job's state as a plain dict, so that every later step (the
queue router, the render step, the job row, `--json`) reads one record instead of choosing again.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from models.types import Availability, Resource


class Backend(Protocol):
    name: str
    resource: Resource

    def available(self) -> Availability: ...


@dataclass
class Choice:
    name: str
    resource: Resource
    reason: str  # "wav2lip weights missing: ... -> warp", or why this one runs
    tried: list[str] = field(default_factory=list)  # "name: why not", in the order tried
    needs_cuda: bool = False  # taken by `auto` because a GPU was there: it refuses to run where there is none

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, record: dict[str, Any]) -> Choice:
        return cls(**record)


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "module:Class", imported on first use (torch stays unimported until a neural backend is asked)
    in_auto: bool = True  # taken by `auto` (False: only when asked for by name)
    auto_needs_cuda: bool = False  # `auto` takes it only on a CUDA machine (too slow on a CPU to pick unasked)


class Registry:
    def __init__(self, kind: str, entries: tuple[Entry, ...]):
        self.kind = kind
        self.entries = {e.name: e for e in entries}
        self.order = tuple(self.entries)  # the fallback chain
        self.names = ("auto", *self.order)  # what a request may name

    def get(self, name: str) -> Any:
        return _instance(self.entry(name).target)

    def entry(self, name: str) -> Entry:
        if name not in self.entries:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names)}")
        return self.entries[name]

    def availability(self, name: str) -> Availability:
        try:
            return self.get(name).available()
        except ImportError as err:  # the `neural` extra (torch) is not installed
            return Availability(
                False, f"{name} needs the neural extra (pip install 'avatar-orchestrator[neural]'): {err}"
            )

    def choose(
        self, requested: str, tried: list[str] | None = None, gpu: Callable[[], Availability] | None = None
    ) -> Choice:
        """The first available backend from `requested` down the chain (`auto`: the chain's auto entries).

        `gpu()`: whether the workers that will run gpu work have CUDA, and which or why not (default: this
        process's device), asked only when a GPU-only entry could be taken; `auto` takes it when they have."""
        from models.device import cuda_status

        tried = list(tried or [])
        if requested == "auto":
            candidates = [e for e in self.entries.values() if e.in_auto]
        else:
            candidates = list(self.entries.values())[self.order.index(self.entry(requested).name) :]
        for entry in candidates:
            status = self.availability(entry.name)
            needs_cuda = requested == "auto" and entry.auto_needs_cuda
            if status.ok and needs_cuda:
                site = (gpu or cuda_status)()
                status = (
                    Availability(True, f"auto, on a GPU: {site.reason}")
                    if site.ok
                    else Availability(False, f"{site.reason} (auto takes it on a GPU only; ask for {entry.name})")
                )
            if status.ok:
                if tried:
                    why = f"{'; '.join(tried)} -> {entry.name}"
                else:
                    why = f"{entry.name} ({status.reason or ('asked for' if requested == entry.name else 'auto')})"
                return Choice(entry.name, self.get(entry.name).resource, why, tried, needs_cuda)
            tried.append(f"{entry.name}: {status.reason}")
        raise RuntimeError(f"no {self.kind} available: {'; '.join(tried)}")  # the last entry is always available

    def fall_back(self, failed: Choice, error: Exception) -> Choice:
        """The next available backend after `failed`, which raised `error` while running."""
        index = self.order.index(failed.name)
        if index + 1 == len(self.order):
            raise error
        return self.choose(self.order[index + 1], [*failed.tried, f"{failed.name} failed: {error}"])


@cache
def _instance(target: str) -> Any:
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)()


def forget_instances() -> None:
    """Drop the loaded backends (tests that change weights or settings)."""
    _instance.cache_clear()


def neural_availability(backend: str, weights_file: Path | None = None) -> Availability:
    """One rule for every neural backend: torch installed, its weights present, the configured device usable."""
    from core.errors import BackendUnavailable
    from models import weights
    from models.device import torch_device, torch_installed

    if not torch_installed():
        return Availability(False, f"{backend} needs torch: pip install 'avatar-orchestrator[neural]'")
    if weights_file is None:
        present = weights.backend_status(backend)
        if not present.ok:
            return present
    elif not weights_file.is_file():
        return Availability(False, f"{backend} weights missing: {weights_file} does not exist")
    try:
        device = torch_device()
    except BackendUnavailable as err:
        return Availability(False, str(err))
    return Availability(True, f"{backend} on {device}" + ("" if device == "cuda" else " (no CUDA device; slower)"))


RENDERERS = Registry(
    "renderer",
    (
        # minutes per second of video on a CPU: auto takes it on a GPU only
        Entry("sadtalker", "models.render.sadtalker:SadTalkerRenderer", auto_needs_cuda=True),
        Entry("wav2lip", "models.render.wav2lip:Wav2LipRenderer"),
        Entry("warp", "models.render.warp:WarpRenderer"),
    ),
)
# a video as the face source (dubbing): the same backends, re-drawing the mouth of each frame of the video
DUBBERS = Registry(
    "dubbing renderer",
    (
        Entry("wav2lip", "models.render.dub_wav2lip:DubWav2LipRenderer"),
        Entry("warp", "models.render.dub:DubWarpRenderer"),
    ),
)
ENHANCERS = Registry(
    "enhancer",
    (
        # about a second per frame on a CPU: auto enables it on a GPU only
        Entry("gfpgan", "models.enhance.gfpgan:GFPGANEnhancer", auto_needs_cuda=True),
        Entry("none", "models.enhance:NoEnhancer"),
    ),
)
