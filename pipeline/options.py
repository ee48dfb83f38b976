"""One model of what a job may ask for, shared by the CLI, the HTTP API, batch manifests, the live stream and the
runner. Every field is optional: unset means "use the setting" (AVATAR_*, .env, configs/model_config.yaml), and
`resolve()` fills them in once, when the job's state is made."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import InputError
from core.settings import FPS_RANGE, SIZE_RANGE, Settings
from models.backends import ENHANCERS, RENDERERS
from models.media.timeline import LoopPolicy
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
    # a video as the face source (docs/dubbing.md)
    loop: LoopPolicy | None = Field(
        default=None, description="video source shorter than the speech: pingpong (default), repeat or freeze"
    )
    trim: bool | None = Field(default=None, description="video source: cut the output to the shorter of the two")
    keep_audio: bool | None = Field(default=None, description="video source: mix its own sound under the speech")

    def resolve(self, settings: Settings, video_source: bool = False) -> Self:
        """Every field that has a setting filled in from it; seed and face_index stay unset when not given. With a
        video source, fps and size stay unset unless given: the output keeps the video's rate and frame size."""
        defaults = {} if video_source else {"fps": settings.fps, "size": settings.size}
        defaults |= {
            "backend": settings.backend,
            "enhancer": settings.enhancer,
            "emotion": "auto",
            "voice": settings.tts_voice,
        }
        if video_source:
            defaults |= {"loop": "pingpong", "trim": False, "keep_audio": False}
        return self.model_validate(defaults | self.model_dump(exclude_none=True))

    def as_dict(self) -> dict[str, Any]:
        """The options that are set (what a job row or a checkpoint stores)."""
        return self.model_dump(exclude_none=True)


def require_face(has_image: bool, has_video: bool, how: str = "a photo, or a video to re-voice") -> None:
    """Every job needs one face source: a photo or a video, not both."""
    if has_image and has_video:
        raise InputError("two_faces", f"Give one face source, not both: {how}.")
    if not has_image and not has_video:
        raise InputError("no_face_source", f"Give the face: {how}.")


def require_speech(has_audio: bool, text: str | None, how: str = "an audio file, or text to be spoken") -> None:
    """Every job needs something to say."""
    if not has_audio and not (text or "").strip():
        raise InputError("no_speech", f"Give the speech: {how}.")


def option_errors(err: ValidationError) -> str:
    """A ValidationError of JobOptions in one line that names each bad option and what is allowed."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}, got {e['input']!r}" for e in err.errors()
    )
