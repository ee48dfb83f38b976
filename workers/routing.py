"""Routing declared in one place: the task names, and which queue a pipeline segment goes to (its resource
class, unless GPU work is routed to CPU workers)."""

from __future__ import annotations

from core.settings import get_settings

SEGMENT_TASK = "avatar.run_segment"
WEBHOOK_TASK = "avatar.deliver_webhook"
RECONCILE_TASK = "avatar.reconcile"


def queue_for(resource: str) -> str:
    """`gpu` segments (wav2lip, sadtalker, gfpgan) go to the gpu queue; everything else (warp...) to cpu.
    With gpu_queue_fallback_to_cpu (a deployment without GPU workers) gpu segments go to cpu too."""
    if resource == "gpu" and not get_settings().gpu_queue_fallback_to_cpu:
        return "gpu"
    return "cpu"
