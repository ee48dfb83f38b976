"""Loudness and pitch tracks of speech, and a few numbers that summarise how it was spoken."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.audio.dsp import find_peaks, yin

WINDOW_S = 0.04  # analysis window; pitch needs two periods of FMIN
FMIN, FMAX = 65.0, 400.0
DYNAMIC_RANGE_DB = 45.0  # loudness_norm maps [ref - this, ref] dB to [0, 1]
VOICING_MIN_CORR = 0.6  # normalised autocorrelation at the pitch period needed to call a frame voiced


@dataclass
class Prosody:
    rate: int  # frames per second
    loudness_db: np.ndarray  # dBFS per frame
    loudness: np.ndarray  # 0..1, relative to the clip's loud speech
    pitch_hz: np.ndarray  # 0 where unvoiced

    def save(self, path: Path) -> None:
        np.savez(path, rate=self.rate, loudness_db=self.loudness_db, loudness=self.loudness, pitch_hz=self.pitch_hz)

    @classmethod
    def load(cls, path: Path) -> Prosody:
        with np.load(path) as data:
            return cls(int(data["rate"]), data["loudness_db"], data["loudness"], data["pitch_hz"])

    def summary(self) -> dict:
        voiced = self.pitch_hz[self.pitch_hz > 0]
        speaking = self.loudness > 0.25
        semitones = 12 * np.log2(voiced / np.median(voiced)) if len(voiced) else np.zeros(0)
        speech_s = speaking.sum() / self.rate
        return {
            "pitch_mean_hz": round(float(voiced.mean()), 1) if len(voiced) else 0.0,
            "pitch_std_semitones": round(float(semitones.std()), 2) if len(voiced) else 0.0,
            "pitch_range_semitones": round(float(np.ptp(np.percentile(semitones, [5, 95]))), 2) if len(voiced) else 0.0,
            "voiced_ratio": round(float(len(voiced) / max(speaking.sum(), 1)), 3),
            "loudness_mean_db": round(float(self.loudness_db[speaking].mean()), 1) if speaking.any() else -100.0,
            "loudness_peak_db": round(float(self.loudness_db.max()), 1),
            "speaking_rate_sps": round(float(_syllable_peaks(self.loudness, self.rate) / speech_s), 2)
            if speech_s
            else 0.0,
        }


def prosody(audio: np.ndarray, sample_rate: int = 16_000, rate: int = 100) -> Prosody:
    """Loudness (dB and 0..1) and pitch (Hz, 0 = unvoiced) of mono `audio`, `rate` frames per second."""
    hop = sample_rate // rate
    win = int(WINDOW_S * sample_rate)
    n = int(np.ceil(len(audio) / hop))
    db = loudness_db(audio, sample_rate, rate)
    norm = normalise_loudness(db, float(np.percentile(db, 95)))
    padded = np.pad(audio, (win // 2, win))
    f0 = yin(padded, FMIN, FMAX, sample_rate, win, hop)[:n]
    f0 = np.pad(f0, (0, n - len(f0)))
    voiced = (_period_correlation(audio, f0, sample_rate, win, hop) > VOICING_MIN_CORR) & (norm > 0.2)
    return Prosody(rate, db, norm, np.where(voiced, f0, 0.0).astype(np.float32))


def loudness_db(audio: np.ndarray, sample_rate: int = 16_000, rate: int = 100) -> np.ndarray:
    """dBFS per frame; frame i is centred at i / rate s and depends only on the samples within WINDOW_S / 2."""
    hop, win = sample_rate // rate, int(WINDOW_S * sample_rate)
    frames = _frames(audio, win, hop, int(np.ceil(len(audio) / hop)))
    return (20 * np.log10(np.sqrt(np.mean(frames**2, axis=1) + 1e-12))).astype(np.float32)


def normalise_loudness(db: np.ndarray, ref: float) -> np.ndarray:
    """0..1 loudness: `ref` (the level of loud speech, dBFS) maps to 1, DYNAMIC_RANGE_DB below it to 0."""
    return np.clip((db - (ref - DYNAMIC_RANGE_DB)) / DYNAMIC_RANGE_DB, 0, 1).astype(np.float32)


def _frames(audio: np.ndarray, win: int, hop: int, n: int) -> np.ndarray:
    """n windows of `win` samples, centred every `hop` samples."""
    padded = np.pad(audio.astype(np.float32), (win // 2, win + hop * n))
    return np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n]


def _period_correlation(audio: np.ndarray, f0: np.ndarray, sample_rate: int, win: int, hop: int) -> np.ndarray:
    """Normalised correlation between each window and itself one pitch period later (near 1 when voiced)."""
    lag = np.clip(np.round(sample_rate / np.maximum(f0, FMIN)), 1, None).astype(int)
    max_lag = int(sample_rate / FMIN) + 1
    frames = _frames(audio, win + max_lag, hop, len(f0))
    idx = np.arange(win)
    a = frames[:, :win]
    b = np.take_along_axis(frames, idx[None, :] + lag[:, None], axis=1)
    num = np.sum(a * b, axis=1)
    den = np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1)) + 1e-9
    return num / den


def _syllable_peaks(loudness: np.ndarray, rate: int) -> int:
    """Loudness peaks at least 100 ms apart that stand out: a rough count of syllable nuclei."""
    smooth = np.convolve(loudness, np.hanning(9) / np.hanning(9).sum(), mode="same")
    return len(find_peaks(smooth, height=0.45, prominence=0.08, distance=max(1, rate // 10)))
