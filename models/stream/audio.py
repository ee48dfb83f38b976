"""Live speech analysis: 16-bit PCM chunks in, mouth curves over any recent window out.

The offline path's functions do the work (log-mel and loudness frames, the viseme classifier, Viterbi, phone
segments, viseme shapes); what differs is only what a stream cannot know yet:
- Per-clip levels (log-mel mean/std, peak energy, loud-speech loudness) become running ones, started from the
  levels of a reference utterance so that a silent lead-in is not mistaken for speech.
- The classifier's future context ends at the newest audio (edge frames repeat, as at a clip's end), and
  Viterbi decodes a sliding window that starts from the class already chosen for the frame before it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import soxr

from models.audio.io import load_audio
from models.audio.phones import class_segments
from models.audio.prosody import loudness_db, normalise_loudness
from models.audio.tts import synthesize
from models.audio.viseme_classifier import (
    CONTEXT,
    FRAME_RATE,
    HOP,
    N_MELS,
    SAMPLE_RATE,
    load_classifier,
    mel_frames,
    normalise,
    stack_context,
    viterbi,
)
from models.audio.visemes import shape_curves
from models.types import MouthCurves

MARGIN = 2  # frames: mel (N_FFT / 2) and loudness (WINDOW_S / 2) frames read at most this far from their centre
PRIOR_FRAMES = 200  # the reference's log-mel statistics weigh as much as 2 s of the stream's own
ENERGY_HEADROOM = 2.3  # natural-log power (10 dB): a quieter speaker than the reference still reaches the peak
LOUDNESS_HEADROOM_DB = 10.0
LOUDNESS_MEMORY = 10 * FRAME_RATE  # frames over which the loud-speech level is tracked
REFERENCE_TEXT = "The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore."


@dataclass(frozen=True)
class Levels:
    mel_mean: np.ndarray  # (N_MELS,)
    mel_std: np.ndarray
    energy_peak: float  # natural-log power of the loudest frame
    loudness_ref_db: float  # 95th percentile of frame loudness, dBFS


@cache
def reference_levels() -> Levels:
    """Levels of an espeak-ng reference utterance: a stream's prior until it has its own."""
    with tempfile.TemporaryDirectory(prefix="avatar-stream-") as tmp:
        audio = load_audio(synthesize(REFERENCE_TEXT, Path(tmp) / "reference.wav"), SAMPLE_RATE)
    logmel, energy = mel_frames(audio)
    return Levels(
        logmel.mean(axis=0), logmel.std(axis=0), float(energy.max()), float(np.percentile(loudness_db(audio), 95))
    )


class _Growing:
    """An array that grows along its first axis without copying everything on every append."""

    def __init__(self, width: int | None = None, dtype: type = np.float32):
        self._data = np.zeros((1024,) if width is None else (1024, width), dtype)
        self.size = 0

    def append(self, values: np.ndarray) -> None:
        end = self.size + len(values)
        if end > len(self._data):
            grown = np.zeros((max(end, 2 * len(self._data)), *self._data.shape[1:]), self._data.dtype)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : end] = values
        self.size = end

    def __getitem__(self, index: slice) -> np.ndarray:
        return self._data[: self.size][index]

    def __setitem__(self, index: slice, values: np.ndarray) -> None:
        self._data[: self.size][index] = values


class LiveAudio:
    """The speech received so far, resampled to 16 kHz, analysed in 10 ms frames as soon as each is final."""

    def __init__(self, sample_rate: int = SAMPLE_RATE):
        self._resampler = (
            soxr.ResampleStream(sample_rate, SAMPLE_RATE, 1, dtype="float32") if sample_rate != SAMPLE_RATE else None
        )
        self._carry = b""  # an odd trailing byte waits for its partner
        self.samples = _Growing()
        self.ended = False
        self.logmel, self.energy, self.db = _Growing(N_MELS), _Growing(), _Growing()
        self.path = _Growing(dtype=np.int64)  # latest decoded class per frame
        prior = reference_levels()
        self._count = float(PRIOR_FRAMES)
        self._sum = prior.mel_mean * PRIOR_FRAMES
        self._sumsq = (prior.mel_std**2 + prior.mel_mean**2) * PRIOR_FRAMES
        self._energy_peak = prior.energy_peak - ENERGY_HEADROOM
        self._loudness_floor = prior.loudness_ref_db - LOUDNESS_HEADROOM_DB

    @property
    def seconds(self) -> float:
        return self.samples.size / SAMPLE_RATE

    @property
    def frames(self) -> int:
        """10 ms analysis frames ready."""
        return self.logmel.size

    def feed(self, pcm: bytes) -> None:
        """Append 16-bit little-endian mono PCM at the stream's sample rate (any length)."""
        data = self._carry + pcm
        cut = len(data) - len(data) % 2
        self._carry = data[cut:]
        audio = np.frombuffer(data[:cut], "<i2").astype(np.float32) / 32768
        self._append(self._resampler.resample_chunk(audio) if self._resampler else audio)

    def end(self) -> None:
        """No more audio: the last frames are analysed against silence."""
        if self._resampler:
            self._append(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        if self.samples.size == 0:
            self.samples.append(np.zeros(HOP, np.float32))
        self.ended = True
        self._analyse()

    def _append(self, audio: np.ndarray) -> None:
        self.samples.append(audio)
        self._analyse()

    def _analyse(self) -> None:
        done = self.frames
        upto = -(-self.samples.size // HOP) if self.ended else self.samples.size // HOP - MARGIN
        if upto <= done:
            return
        segment = self._segment((done - MARGIN) * HOP, (upto + MARGIN) * HOP)
        keep = slice(MARGIN, MARGIN + upto - done)
        logmel, energy = mel_frames(segment)
        logmel, energy = logmel[keep], energy[keep]
        self.logmel.append(logmel)
        self.energy.append(energy)
        self.db.append(loudness_db(segment, SAMPLE_RATE, FRAME_RATE)[keep])
        self.path.append(np.zeros(upto - done, np.int64))
        self._count += len(logmel)
        self._sum += logmel.sum(axis=0)
        self._sumsq += (logmel.astype(np.float64) ** 2).sum(axis=0)
        self._energy_peak = max(self._energy_peak, float(energy.max()))

    def _segment(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop), zeros outside what was received."""
        out = np.zeros(stop - start, np.float32)
        lo, hi = max(start, 0), min(stop, self.samples.size)
        if hi > lo:
            out[lo - start : hi - start] = self.samples[lo:hi]
        return out

    def mouth_curves(self, first: int, last: int) -> MouthCurves:
        """Mouth curves (100 Hz, time 0 = frame `first`) over analysis frames [first, last)."""
        mean = self._sum / self._count
        std = np.sqrt(np.maximum(self._sumsq / self._count - mean**2, 0))
        lo = max(0, first + min(CONTEXT))
        base = normalise(self.logmel[lo:last], self.energy[lo:last], mean, std, self._energy_peak)
        model = load_classifier()
        log_probs = model.log_probs(stack_context(base)[first - lo :])
        path = viterbi(log_probs, int(self.path[first - 1 : first][0]) if first > 0 else None)
        self.path[first:last] = path
        duration = (last - first) / FRAME_RATE
        recent = self.db[max(0, last - LOUDNESS_MEMORY) : last]
        ref = max(float(np.percentile(recent, 95)), self._loudness_floor)
        loudness = normalise_loudness(self.db[first:last], ref)
        return shape_curves(class_segments(path, model.classes, duration), loudness, FRAME_RATE, duration)
