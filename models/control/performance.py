"""What a controller decides about a clip: the performance, as a validated model with ranges.

Both controllers produce it: `rules` from the detected emotion (deterministically, the mapping below), `llm` from
a language model's reply checked against this schema. `models.control.rules.build_controls` turns it, with the
mouth curves and the phrase times, into the per-frame control track the renderers draw.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.types import EMOTIONS

Emotion = Literal[EMOTIONS]  # type: ignore[valid-type]


class Direction(BaseModel):
    """How one phrase is performed."""

    model_config = ConfigDict(extra="forbid")

    emotion: Emotion = Field(description="the emotion shown during this phrase")
    intensity: float = Field(ge=0, le=1, description="how strongly it shows, 0 = not at all")


class Performance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    emotion: Emotion = Field(description="the clip's main emotion (what the job records)")
    expression_intensity: float = Field(default=1.0, ge=0, le=1.5, description="scales every expression")
    blink_rate: float = Field(default=16.0, ge=4, le=40, description="blinks per minute")
    head_motion: float = Field(default=1.0, ge=0, le=2, description="scale of idle sway and nods")
    head_tilt: float = Field(default=0.0, ge=-8, le=8, description="head roll held through the clip, degrees")
    nod_strength: float = Field(default=1.0, ge=0, le=2, description="nods on stressed words")
    eyebrow_raise: float = Field(default=0.0, ge=-0.5, le=0.5, description="brow offset held through the clip")
    mouth_openness: float = Field(default=1.0, ge=0.6, le=1.4, description="scales the jaw's opening")
    phrases: list[Direction] = Field(default_factory=list, description="one per phrase, in order")


def direction(primary: str, confidence: float) -> Direction:
    """The `rules` direction of a phrase whose detected emotion is `primary`: shown more the surer the detection."""
    return Direction(emotion=primary, intensity=min(1.0, 0.4 + 0.6 * confidence))


def rules_performance(emotion: str, arousal: float = 0.0, phrases: list[dict] | None = None) -> Performance:
    """The `rules` controller: the detected emotion shown per phrase with its confidence; livelier speech
    (arousal > 0) blinks, sways and nods more, calmer speech less."""
    arousal = max(-1.0, min(1.0, arousal))
    return Performance(
        emotion=emotion,
        blink_rate=16.0 + 6.0 * arousal,
        head_motion=1.0 + 0.4 * arousal,
        nod_strength=1.0 + 0.5 * arousal,
        mouth_openness=1.0 + 0.15 * arousal,
        phrases=[direction(p["primary"], p["confidence"]) for p in phrases or []],
    )
