"""A source video, read as a stream: probed once (size, rate, frame count, variable frame rate), then decoded one
frame at a time at a constant rate, whatever the file's own timing.

PyAV (FFmpeg's libraries, as models/media/video.py uses) demuxes and decodes in-process: no ffmpeg/ffprobe process
to start, and a frame is a numpy array without a pipe in between. Constant-rate resampling follows FFmpeg's `fps`
filter: output frame k (at k / fps) shows the source frame on screen at that moment, so a variable-rate phone video
becomes an even sequence (frames repeated or dropped), and a constant-rate one at its own rate is read 1:1.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from core.errors import InputError
from models.media.video import rgb_array

VFR_SPREAD = 0.1  # frame intervals differing by more than this share of the typical one: variable frame rate
BACK_CHUNK = 16  # frames decoded at once when a video is played backwards (memory: 16 frames)
EPSILON = 1e-6  # s: a frame starting exactly half-way between two output frames goes to the later one


@dataclass(frozen=True)
class VideoInfo:
    container: str
    codec: str
    width: int
    height: int
    rate: Fraction  # the average frame rate
    frames: int  # frames in the file
    duration: float  # seconds, from the first frame's start to the last frame's end
    start: float  # seconds: the first frame's time stamp
    vfr: bool  # frame intervals vary (phones, screen recordings)
    has_audio: bool

    @property
    def fps(self) -> float:
        return float(self.rate)

    def cfr_frames(self, rate: Fraction) -> int:
        """How many frames the video has once resampled to a constant `rate`."""
        return max(1, round(self.duration * rate))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"rate": f"{self.rate.numerator}/{self.rate.denominator}", "fps": round(self.fps, 3)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoInfo:
        """The probe back from `as_dict` (other keys ignored), as a job's state carries it between nodes."""
        names = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names} | {"rate": Fraction(data["rate"])})


def probe_video(path: Path) -> VideoInfo:
    """Demux (no decoding) the first video stream of `path`: its format, size, rate, frames and timing.
    InputError when it is not a video FFmpeg can decode."""
    name = Path(path).name
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError("no_video_stream", f"{name} holds no video stream; give a video file.")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            times = sorted(
                float(packet.pts * stream.time_base)
                for packet in container.demux(stream)
                if packet.pts is not None and packet.size
            )
            info = (container.format.name, codec, stream.codec_context.width, stream.codec_context.height)
            average, has_audio = stream.average_rate, bool(container.streams.audio)
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - an untrusted file: FFmpeg, PyAV and the time stamps may fail any way
        raise InputError(
            "unreadable_video", f"{name} could not be read as a video ({err}); send MP4, MOV, WebM, MKV or AVI."
        ) from None
    if not times:
        raise InputError("empty_video", f"{name} holds no video frames.")
    steps = np.diff(times)
    step = float(np.median(steps)) if len(steps) else 1 / float(average or 25)
    rate = Fraction(average).limit_denominator(1001) if average else Fraction(1 / step).limit_denominator(1001)
    vfr = bool(len(steps) and np.abs(steps - step).max() > VFR_SPREAD * step)
    duration = times[-1] - times[0] + (1 / float(rate) if vfr else step)
    return VideoInfo(*info, rate, len(times), duration, times[0], vfr, has_audio)  # type: ignore[arg-type]


def cfr_frames(
    path: Path, info: VideoInfo, rate: Fraction, start: int = 0, stop: int | None = None
) -> Iterator[np.ndarray]:
    """RGB frames `start` .. `stop` (default: to the end) of the video resampled to the constant `rate`.

    Frame k shows what is on screen at k / rate (from the first frame's time): the latest source frame that
    starts less than half an output frame after it (FFmpeg's fps filter, rounding to the nearest slot)."""
    stop = info.cfr_frames(rate) if stop is None else stop
    half = 0.5 / float(rate)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if start > 0:  # to the key frame before it; decoding then runs forward to the frame asked for
            at = max(info.start, info.start + float(start / rate) - 2 * half)
            container.seek(int(at / stream.time_base), stream=stream)
        k, shown = start, None
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            at = float(frame.pts * stream.time_base) - info.start
            while shown is not None and k < stop and at > float(k / rate) + half - EPSILON:
                yield shown  # the frame on screen until this one starts
                k += 1
            if k >= stop:
                return
            shown = rgb_array(frame)
        while shown is not None and k < stop:  # the last frame holds to the end
            yield shown
            k += 1


class FrameSource:
    """Serves the frames of a constant-rate view of a video in any order a timeline asks for, with bounded
    memory: forward runs stream, a repeat restarts, backward runs (ping-pong) decode BACK_CHUNK frames at a time."""

    def __init__(self, path: Path, info: VideoInfo, rate: Fraction):
        self.path, self.info, self.rate = path, info, rate
        self.count = info.cfr_frames(rate)

    def frames(self, indices: Iterable[int]) -> Iterator[np.ndarray]:
        forward: Iterator[np.ndarray] | None = None
        next_index = -1
        chunk_start, chunk = 0, []
        last, frame = -2, np.zeros(0)
        for index in indices:
            if index == last:
                pass
            elif chunk_start <= index < chunk_start + len(chunk):
                frame = chunk[index - chunk_start]
            elif index == next_index and forward is not None:
                frame = next(forward)
                next_index += 1
            elif index == last - 1:  # playing backwards
                chunk_start = max(0, index - BACK_CHUNK + 1)
                chunk = list(cfr_frames(self.path, self.info, self.rate, chunk_start, index + 1))
                frame = chunk[index - chunk_start]
            else:
                forward = cfr_frames(self.path, self.info, self.rate, index)
                frame, next_index = next(forward), index + 1
            last = index
            yield frame


def check_video(info: VideoInfo, name: str, max_seconds: float, max_pixels: int) -> None:
    """The caps on a face video (settings max_video_seconds, max_video_pixels): InputError beyond them."""
    if info.duration > max_seconds:
        raise InputError(
            "video_too_long",
            f"{name} lasts {info.duration:.0f} s; videos up to {max_seconds:.0f} s are accepted: cut it shorter.",
            status_code=413,
        )
    if info.width * info.height > max_pixels:
        raise InputError(
            "video_too_large",
            f"{name} is {info.width}x{info.height}; frames up to {max_pixels / 1e6:.1f} megapixels are accepted: "
            "scale it down.",
            status_code=413,
        )
    if min(info.width, info.height) < 32:
        raise InputError("video_too_small", f"{name} is {info.width}x{info.height}; no face fits in that.")
