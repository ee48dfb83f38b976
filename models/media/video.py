"""H.264 video out and in with PyAV: a streaming frame writer, audio muxing without re-encoding video, and
probing."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import cv2
import numpy as np

AUDIO_RATE = 48_000
AUDIO_BITRATE = 128_000
AAC_CODER = "fast"  # FFmpeg's default AAC search ("twoloop") takes 3-4x longer for no audible gain at 128 kb/s
QUEUED_FRAMES = 8  # frames waiting for the encoder: enough to ride out jitter, little memory


class VideoWriter:
    """Streams RGB frames into an H.264 yuv420p MP4 (a FrameSink). The encoder runs in its own thread (PyAV
    releases the GIL while libx264 works), so rendering and encoding share the cores: the wall time of a render
    approaches the larger of the two, not their sum. At most QUEUED_FRAMES frames wait in between."""

    def __init__(
        self, path: Path, fps: int | Fraction, size: int | tuple[int, int], crf: int = 20, preset: str = "veryfast"
    ):
        self.path = Path(path)
        self.width, self.height = (size, size) if isinstance(size, int) else size  # a square, or (width, height)
        self.frames = 0
        self._container = av.open(str(self.path), "w")
        self._stream = self._container.add_stream("libx264", rate=fps)
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        self._stream.thread_type = "AUTO"
        self._stream.options = {"crf": str(crf), "preset": preset} | _x264_params()
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(QUEUED_FRAMES)
        self._error: BaseException | None = None
        self._encoder = threading.Thread(target=self._encode, name=f"encode {self.path.name}", daemon=True)
        self._encoder.start()

    def write(self, frame_rgb: np.ndarray) -> None:
        if frame_rgb.shape != (self.height, self.width, 3):
            raise ValueError(f"frame of shape {frame_rgb.shape}, expected ({self.height}, {self.width}, 3)")
        if self._error is not None:
            raise RuntimeError(f"encoding {self.path.name} failed: {self._error}") from self._error
        # OpenCV's BT.601 limited-range conversion is several times faster than swscale's here; it also makes
        # the queued copy, so the caller may reuse its frame buffer.
        self._queue.put(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2YUV_I420))
        self.frames += 1

    def _encode(self) -> None:
        pts = 0
        while (yuv := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain: the writer raises the error
            try:
                frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
                frame.pts = pts
                self._container.mux(self._stream.encode(frame))
                pts += 1
            except BaseException as err:  # noqa: BLE001 - handed to the writing thread
                self._error = err

    def close(self) -> None:
        if self._container is None:
            return
        self._queue.put(None)
        self._encoder.join()
        try:
            if self._error is None:
                self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()
            self._container = None
        if self._error is not None:
            raise RuntimeError(f"encoding {self.path.name} failed: {self._error}") from self._error

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def _x264_params() -> dict[str, str]:
    """libx264's options beyond its preset: the setting video_x264_params (superfast keeps its macroblock tree)."""
    from core.settings import get_settings

    params = get_settings().video_x264_params
    return {"x264-params": params} if params else {}


def mux(video_path: Path, audio_wav: Path, out_path: Path) -> None:
    """`out_path`: the H.264 stream of `video_path` as is, plus `audio_wav` as AAC trimmed or padded with
    silence to the video's duration; MP4 with the index up front (+faststart) so browsers start playing
    at once."""
    with (
        av.open(str(video_path)) as source,
        av.open(str(out_path), "w", options={"movflags": "+faststart"}) as out,
    ):
        video_in = source.streams.video[0]
        duration = float(video_in.frames / video_in.average_rate) if video_in.frames else _duration(video_in)
        video_out = out.add_stream_from_template(video_in)
        audio_out = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        audio_out.bit_rate = AUDIO_BITRATE
        audio_out.options = {"aac_coder": AAC_CODER}
        for packet in source.demux(video_in):
            if packet.dts is None:
                continue
            packet.stream = video_out
            out.mux(packet)
        _encode_audio(audio_wav, out, audio_out, round(duration * AUDIO_RATE))


def _duration(stream: av.video.stream.VideoStream) -> float:
    return float(stream.duration * stream.time_base) if stream.duration else 0.0


def _encode_audio(audio_wav: Path, out: Any, stream: Any, total: int) -> None:
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=AUDIO_RATE)
    written = 0
    with av.open(str(audio_wav)) as source:
        for frame in source.decode(audio=0):
            for chunk in resampler.resample(frame):
                written = _put(out, stream, chunk.to_ndarray()[:, : total - written], written)
        for chunk in resampler.resample(None):
            written = _put(out, stream, chunk.to_ndarray()[:, : total - written], written)
    while written < total:  # pad with silence
        written = _put(out, stream, np.zeros((1, min(1024, total - written)), np.float32), written)
    out.mux(stream.encode(None))


def _put(out: Any, stream: Any, samples: np.ndarray, written: int) -> int:
    if samples.shape[1] == 0:
        return written
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, np.float32), format="fltp", layout="mono"
    )
    frame.sample_rate = AUDIO_RATE
    frame.pts = written
    frame.time_base = Fraction(1, AUDIO_RATE)
    out.mux(stream.encode(frame))
    return written + samples.shape[1]


def probe(path: Path) -> dict[str, Any]:
    """Durations (container, video, audio; seconds), fps, size, codecs, pixel format and frame count
    of `path`."""
    with av.open(str(path)) as container:
        info: dict[str, Any] = {"duration": container.duration / av.time_base if container.duration else None}
        if container.streams.video:
            v = container.streams.video[0]
            info |= {
                "video_codec": v.codec_context.name,
                "pix_fmt": v.codec_context.pix_fmt,
                "width": v.codec_context.width,
                "height": v.codec_context.height,
                "fps": float(v.average_rate) if v.average_rate else None,
                "frames": v.frames,
                "video_duration": _duration(v),
            }
        if container.streams.audio:
            a = container.streams.audio[0]
            info |= {
                "audio_codec": a.codec_context.name,
                "sample_rate": a.codec_context.sample_rate,
                "audio_duration": float(a.duration * a.time_base) if a.duration else 0.0,
            }
    return info


def read_frames(path: Path) -> Iterator[np.ndarray]:
    """The RGB frames of the first video stream of `path`, decoded one at a time."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24")
