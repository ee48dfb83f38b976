"""The data that passes between the model packages: small, typed, serialisable to .npz/.json artifacts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

Resource = Literal["cpu", "gpu"]

# The emotions the controller can show (models/control/rules.EMOTION_POSE): detection, the LLM controller and job
# options all speak this vocabulary, so a job never records an emotion it did not render.
EMOTIONS = ("neutral", "happy", "sad", "angry", "surprised")

# Per-frame control channels a renderer understands. All float32 arrays of length n_frames.
#   jaw_open      0 = closed .. 1 = wide open (vertical mouth aperture)
#   lip_press     0..1, lips pressed together (p/b/m): overrides jaw_open for the lips
#   lip_width     -1 = narrow/pursed .. 0 = rest .. 1 = spread (i/e)
#   lip_round     0..1 rounding/protrusion (o/u/w)
#   lip_teeth     0..1 lower lip tucked under upper teeth (f/v)
#   upper_lip     0..1 upper lip raise
#   speaking      0..1, in speech (0 in silence): between words a smile that shows its teeth rests with its lips
#                 apart as in the photo, and shut in silence
#   smile         -1 = frown .. 1 = smile
#   brow_raise    -1 = furrow .. 1 = raise
#   blink         0 = open .. 1 = closed eyelids
#   head_pitch, head_yaw, head_roll   degrees
#   head_dx, head_dy                  pixels at output size
CONTROL_CHANNELS = (
    "jaw_open",
    "lip_press",
    "lip_width",
    "lip_round",
    "lip_teeth",
    "upper_lip",
    "speaking",
    "smile",
    "brow_raise",
    "blink",
    "head_pitch",
    "head_yaw",
    "head_roll",
    "head_dx",
    "head_dy",
)


@dataclass
class ControlTrack:
    fps: int
    channels: dict[str, np.ndarray]
    emotion: str = "neutral"

    @property
    def n_frames(self) -> int:
        return len(next(iter(self.channels.values())))

    def frame(self, i: int) -> dict[str, float]:
        return {k: float(v[i]) for k, v in self.channels.items()}

    def save(self, path: Path) -> None:
        np.savez_compressed(path, fps=self.fps, emotion=self.emotion, **self.channels)

    def at_times(self, times: np.ndarray) -> ControlTrack:
        """The controls at `times` (seconds), linearly interpolated: one frame per time (a video source's
        frames, whose rate need not be a whole number). `fps` becomes the nearest whole rate of those times."""
        own = np.arange(self.n_frames) / self.fps
        rate = round((len(times) - 1) / (times[-1] - times[0])) if len(times) > 1 else self.fps
        channels = {k: np.interp(times, own, v).astype(np.float32) for k, v in self.channels.items()}
        return ControlTrack(fps=rate, channels=channels, emotion=self.emotion)

    def summary(self) -> dict[str, float | int | str]:
        """What the face does over the clip, in a few numbers (for --json and job records)."""
        c = self.channels
        blink = c["blink"] >= 0.99
        return {
            "frames": self.n_frames,
            "emotion": self.emotion,
            "jaw_open_mean": round(float(c["jaw_open"].mean()), 3),
            "jaw_open_max": round(float(c["jaw_open"].max()), 3),
            "lips_closed_frames": int((c["lip_press"] > 0.5).sum()),
            "smile_mean": round(float(c["smile"].mean()), 3),
            "blinks": int(np.count_nonzero(blink[1:] & ~blink[:-1]) + int(blink[0])),
            "head_yaw_range_deg": round(float(np.ptp(c["head_yaw"])), 2),
            "head_pitch_range_deg": round(float(np.ptp(c["head_pitch"])), 2),
        }

    @classmethod
    def load(cls, path: Path) -> ControlTrack:
        with np.load(path) as z:
            channels = {k: z[k].astype(np.float32) for k in z.files if k not in ("fps", "emotion")}
            return cls(fps=int(z["fps"]), channels=channels, emotion=str(z["emotion"]))


@dataclass
class Phone:
    label: str  # ARPAbet without stress digits ("AA", "M", "SIL")
    start: float  # seconds
    end: float


@dataclass
class MouthCurves:
    """Mouth targets from the audio at `rate` Hz, before anticipation/smoothing/emotion (the controller does those)."""

    rate: int
    open: np.ndarray  # 0..1
    width: np.ndarray  # -1..1
    round: np.ndarray  # 0..1
    closed: np.ndarray  # 0..1 bilabial closure
    teeth: np.ndarray  # 0..1 labiodental
    energy: np.ndarray  # 0..1 normalised loudness

    def save(self, path: Path) -> None:
        np.savez_compressed(path, rate=self.rate, **{k: v for k, v in asdict(self).items() if k != "rate"})

    @classmethod
    def load(cls, path: Path) -> MouthCurves:
        with np.load(path) as z:
            return cls(rate=int(z["rate"]), **{k: z[k].astype(np.float32) for k in z.files if k != "rate"})


@dataclass
class Availability:
    ok: bool
    reason: str = ""


@dataclass
class RenderReport:
    backend: str
    frames: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    # where the frames were made: {"device": "cpu" | "cuda", "precision": "fp32" | "fp16" | "bf16" (neural only)}
    ran_on: dict[str, str] = field(default_factory=lambda: {"device": "cpu"})


class FrameSink(Protocol):
    def write(self, frame_rgb: np.ndarray) -> None: ...


class Renderer(Protocol):
    """A video backend (warp, wav2lip, sadtalker): `render` writes exactly controls.n_frames frames to `sink`."""

    name: str
    resource: Resource

    def available(self) -> Availability: ...  # weights present? device present? why not?

    def render(
        self,
        face: Any,  # models.face.analysis.FaceAnalysis
        controls: ControlTrack,
        audio_wav: Path,
        sink: FrameSink,
        progress: Callable[[int, int], None] | None = None,
    ) -> RenderReport: ...
