"""Decide which renderer and enhancer a job will use, before video generation (it decides the worker queue)."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.render.registry import choose


@dataclass
class BackendPlan:
    renderer: str
    enhancer: str
    reason: str
    warnings: list[str] = field(default_factory=list)


def plan_backends(renderer: str, enhancer: str) -> BackendPlan:
    from models.enhance import select_enhancer

    chosen, skipped = choose(renderer)
    enh, enh_reason = select_enhancer(enhancer)
    enh_name = enh.name if enh is not None else "none"
    reason = (
        f"renderer {chosen}"
        + (f" ({'; '.join(skipped)})" if skipped else "")
        + f"; enhancer {enh_name} ({enh_reason})"
    )
    warnings = (
        [f"requested renderer {renderer} unavailable: {'; '.join(skipped)}"]
        if skipped and renderer != "auto"
        else []
    )
    if enhancer not in ("auto", "none") and enh is None:
        warnings.append(f"requested enhancer {enhancer} unavailable: {enh_reason}")
    return BackendPlan(chosen, enh_name, reason, warnings)
