"""One model of what a job may ask for, shared by the CLI, the HTTP API, batch manifests, the live stream and the
runner. Every field is optional: unset means "use the setting" (AVATAR_*, .env, configs/model_config.yaml), and
`resolve()` fills them in once, when the job's state is made."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import InputError
from core.settings import FPS_RANGE, SIZE_RANGE, Settings
from models.backends import ENHANCERS, RENDERERS
from models.types import EMOTIONS

RendererName = Literal[RENDERERS.names]  # type: ignore[valid-type]
EnhancerName = Literal[ENHANCERS.names]  # type: ignore[valid-type]
EmotionName = Literal[("auto", *EMOTIONS)]  # type: ignore[valid-type]

FACE_INDEX_MAX = 32


class JobOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fps: int | None = Field(default=None, ge=FPS_RANGE[0], le=FPS_RANGE[1], description="frames per second")
    size: int | None = Field(
        default=None, ge=SIZE_RANGE[0], le=SIZE_RANGE[1], description="output width and height in pixels"
    )
    backend: RendererName | None = Field(default=None, description="renderer; auto picks the best available")
    enhancer: EnhancerName | None = Field(default=None, description="face enhancer after rendering")
    emotion: EmotionName | None = Field(default=None, description="auto: detected from the words and the voice")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1, description="blinks and idle motion")
    face_index: int | None = Field(default=None, ge=0, le=FACE_INDEX_MAX, description="0 = the largest face")
    voice: str | None = Field(
        default=None, max_length=40, pattern=r"^[A-Za-z0-9_+\-]+$", description="espeak-ng voice for text"
    )

    def resolve(self, settings: Settings) -> Self:
        """Every field that has a setting filled in from it; seed and face_index stay unset when not given."""
        defaults = {
            "fps": settings.fps,
            "size": settings.size,
            "backend": settings.backend,
            "enhancer": settings.enhancer,
            "emotion": "auto",
            "voice": settings.tts_voice,
        }
        return self.model_validate(defaults | self.model_dump(exclude_none=True))

    def as_dict(self) -> dict[str, Any]:
        """The options that are set (what a job row or a checkpoint stores)."""
        return self.model_dump(exclude_none=True)


def require_speech(has_audio: bool, text: str | None, how: str = "an audio file, or text to be spoken") -> None:
    """Every job needs something to say."""
    if not has_audio and not (text or "").strip():
        raise InputError("no_speech", f"Give the speech: {how}.")


def option_errors(err: ValidationError) -> str:
    """A ValidationError of JobOptions in one line that names each bad option and what is allowed."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}, got {e['input']!r}" for e in err.errors()
    )
