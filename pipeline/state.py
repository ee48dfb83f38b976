"""The state that flows through the graph: references to artifacts (storage keys) and small facts, never frames."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


def merge(left: dict | None, right: dict | None) -> dict:
    return {**(left or {}), **(right or {})}


class JobOptions(TypedDict, total=False):
    fps: int
    size: int
    backend: str  # auto | warp | wav2lip | sadtalker
    enhancer: str  # auto | none | gfpgan
    emotion: str  # auto | neutral | happy | sad | angry | surprised
    seed: int
    face_index: int | None
    voice: str


class AvatarState(TypedDict, total=False):
    job_id: str
    image_key: str
    audio_key: str | None
    text: str | None
    options: JobOptions

    # audio_processing
    speech_key: str  # the speech track muxed into the output
    phones_key: str
    mouth_key: str
    duration: float
    transcript: str | None
    transcript_source: str
    audio_features: dict[str, Any]

    # emotion_detection
    emotion: str
    emotion_scores: dict[str, float]

    # avatar_control
    controls_key: str
    controller: str
    render_backend: str  # the backend planned for video_generation (decides its queue)
    enhancer: str

    # video_generation / quality_enhancement / finalize
    video_key: str
    enhanced_key: str
    output_key: str
    output_info: dict[str, Any]

    # bookkeeping, merged across nodes
    backends: Annotated[dict[str, str], merge]  # node -> "backend (why)"
    timings: Annotated[dict[str, float], merge]  # node -> seconds
    warnings: Annotated[list[str], operator.add]
