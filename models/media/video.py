"""H.264 video out and in with PyAV: a streaming frame writer, audio muxing without re-encoding video, and
probing."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

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
                # the queued array itself, not a copy (from_ndarray copies it: 85 us a 512 px frame); libavcodec
                # takes its own reference or copy before encode returns, and the array is not written again
                frame = av.VideoFrame.from_numpy_buffer(yuv, format="yuv420p")
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


@dataclass(frozen=True)
class EncodedAudio:
    """A sound track encoded ahead of the mux (`encode_audio`): AAC of exactly `samples` samples at AUDIO_RATE."""

    path: Path
    samples: int


def audio_samples(seconds: float) -> int:
    """Samples of the sound track that goes with `seconds` of video: mux trims or pads the audio to this."""
    return round(seconds * AUDIO_RATE)


def encode_audio(audio_wav: Path | BinaryIO, out_path: Path, samples: int) -> EncodedAudio:
    """`audio_wav` (a file, or its bytes) as the AAC track `mux` would make for a video of `samples` audio
    samples, in an MP4 of its own: encoded beforehand, on a core that is free, mux then only copies it."""
    with av.open(str(out_path), "w", format="mp4") as out:
        _encode_audio(audio_wav, out, _aac_stream(out), samples)
    return EncodedAudio(Path(out_path), samples)


def mux(video_path: Path, audio_wav: Path, out_path: Path, encoded: EncodedAudio | None = None) -> None:
    """`out_path`: the H.264 stream of `video_path` as is, plus `audio_wav` as AAC trimmed or padded with
    silence to the video's duration; MP4 with the index up front (+faststart) so browsers start playing
    at once. `encoded`: `audio_wav` already encoded (`encode_audio`), copied when its length is the video's."""
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(av.open(str(video_path)))
        out = stack.enter_context(av.open(str(out_path), "w", options={"movflags": "+faststart"}))
        video_in = source.streams.video[0]
        duration = float(video_in.frames / video_in.average_rate) if video_in.frames else _duration(video_in)
        total = audio_samples(duration)
        video_out = out.add_stream_from_template(video_in)
        if encoded is not None and encoded.samples == total:
            aac = stack.enter_context(av.open(str(encoded.path)))
            audio_in = aac.streams.audio[0]
            audio_out = out.add_stream_from_template(audio_in)
            audio_out.bit_rate = AUDIO_BITRATE  # as the encoder declares it: the same file, byte for byte
        else:
            aac, audio_out = None, _aac_stream(out)
        _copy_packets(source, video_in, out, video_out)
        if aac is None:
            _encode_audio(audio_wav, out, audio_out, total)
        else:
            _copy_packets(aac, audio_in, out, audio_out)


def _aac_stream(out: Any) -> Any:
    stream = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
    stream.bit_rate = AUDIO_BITRATE
    stream.options = {"aac_coder": AAC_CODER}
    return stream


def _copy_packets(source: Any, stream_in: Any, out: Any, stream_out: Any) -> None:
    for packet in source.demux(stream_in):
        if packet.dts is None:  # the demuxer's empty packet at the end
            continue
        packet.stream = stream_out
        out.mux(packet)


def _duration(stream: av.video.stream.VideoStream) -> float:
    return float(stream.duration * stream.time_base) if stream.duration else 0.0


def _encode_audio(audio_wav: Path | BinaryIO, out: Any, stream: Any, total: int) -> None:
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=AUDIO_RATE)
    written = 0
    with av.open(audio_wav if hasattr(audio_wav, "read") else str(audio_wav)) as source:
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
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, np.float32), format="fltp", layout="mono")
    frame.sample_rate = AUDIO_RATE
    frame.pts = written
    frame.time_base = Fraction(1, AUDIO_RATE)
    out.mux(stream.encode(frame))
    return written + samples.shape[1]


def frame_rate(path: Path) -> Fraction:
    """The video stream's exact frame rate (30000/1001 stays that; probe's fps is a float, which VideoWriter
    does not take)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return Fraction(stream.average_rate or stream.guessed_rate)


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
            yield rgb_array(frame)


def rgb_array(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame's pixels as a contiguous RGB array, converted on one thread. PyAV keeps one scaler per thread;
    one with threads of its own, left behind in a pool thread, hung every process forked afterwards
    (models/render/forked.py): CPython clears the other threads' state in a forked child, which frees that scaler,
    and freeing it waits for threads the child does not have. PyAV 18 hands out a view of rows padded to FFmpeg's
    line size (a 160 px frame's rows 576 bytes apart), which dlib's face descriptor refuses: the copy."""
    return np.ascontiguousarray(frame.to_ndarray(format="rgb24", threads=1))
