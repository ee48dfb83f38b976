"""The state that flows through the graph: references to artifacts (storage keys) and small facts, never frames."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


def merge(left: dict | None, right: dict | None) -> dict:
    return {**(left or {}), **(right or {})}


class AvatarState(TypedDict, total=False):
    job_id: str
    image_key: str | None  # the face: a photo, or
    source_video_key: str | None  # a video to re-voice (dubbing)
    audio_key: str | None
    text: str | None
    options: dict[str, Any]  # pipeline.options.JobOptions, resolved against the settings when the job was made

    # audio_processing
    speech_key: str  # the speech track muxed into the output
    phones_key: str
    mouth_key: str
    prosody_key: str  # loudness and pitch per 10 ms, read by emotion detection
    duration: float
    transcript: str | None
    transcript_source: str
    audio_features: dict[str, Any]

    # emotion_detection
    emotion: str
    emotion_scores: dict[str, float]
    emotion_detail: dict[str, Any]  # confidence, valence, arousal, per-modality readings
    emotion_track: list[dict[str, Any]]  # per phrase: start, end, text, primary, confidence, valence, arousal, question
    face_expression: dict[str, float]  # the photo's resting expression (models.emotion.face)

    # avatar_control
    source_video: dict[str, Any]  # a video source: its probe (models.media.reader.VideoInfo), output rate and frames
    controls_key: str
    controller: str
    performance: dict[str, Any]  # models.control.performance.Performance, what the controller decided
    # "renderer" / "enhancer" -> models.backends.Choice as a dict: what runs, its resource (the worker queue), why;
    # planned by avatar_control, updated by video_generation when a failure moved the render down the chain
    plan: Annotated[dict[str, dict[str, Any]], merge]

    # video_generation / quality_enhancement / finalize
    video_key: str
    render_device: dict[str, str]  # where the frames were made: device, and precision for a neural renderer
    # the speech already encoded for the output (key, samples): encoded aside from audio_processing on, stored by
    # video_generation; absent when the job moved between processes (finalize encodes it then)
    speech_aac: dict[str, Any]
    enhanced_key: str
    output_key: str
    output_info: dict[str, Any]

    # bookkeeping, merged across nodes
    backends: Annotated[dict[str, str], merge]  # node -> "backend (why)"
    timings: Annotated[dict[str, float], merge]  # node -> seconds
    warnings: Annotated[list[str], operator.add]
