"""Wav2Lip's own mel spectrogram (its audio.py with the hparams it was trained on) and the per-frame windows.

The network only works on exactly this representation: 16 kHz, pre-emphasis 0.97, STFT 800/200/800,
80 mel bands 55-7600 Hz, dB with ref 20 and floor -100, scaled symmetrically to [-4, 4].
"""

from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np

SAMPLE_RATE = 16_000
N_FFT = 800
HOP = 200
WIN = 800
N_MELS = 80
FMIN = 55
FMAX = 7600
PREEMPHASIS = 0.97
REF_LEVEL_DB = 20
MIN_LEVEL_DB = -100
MAX_ABS_VALUE = 4.0
MEL_STEP = 16  # mel frames per video frame window (0.2 s)
MEL_RATE = SAMPLE_RATE / HOP  # 80 mel frames per second


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX)


def melspectrogram(wav: np.ndarray) -> np.ndarray:
    """Mono float wav at 16 kHz -> (80, T) normalised log-mel, T = len(wav) // 200 + 1."""
    from scipy import signal  # a second of start-up: only when Wav2Lip runs, not when it is merely planned

    emphasised = signal.lfilter([1, -PREEMPHASIS], [1], wav.astype(np.float64))
    magnitude = np.abs(librosa.stft(y=emphasised, n_fft=N_FFT, hop_length=HOP, win_length=WIN))
    min_level = np.exp(MIN_LEVEL_DB / 20 * np.log(10))
    db = 20 * np.log10(np.maximum(min_level, _mel_basis() @ magnitude)) - REF_LEVEL_DB
    scaled = 2 * MAX_ABS_VALUE * (db - MIN_LEVEL_DB) / -MIN_LEVEL_DB - MAX_ABS_VALUE
    return np.clip(scaled, -MAX_ABS_VALUE, MAX_ABS_VALUE).astype(np.float32)


def mel_windows(mel: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """(n_frames, 80, 16): the window that starts at each video frame, as the official inference cuts them.

    Windows past the end of the audio repeat the last full window, so there are always n_frames windows;
    audio shorter than one window is padded with silence (the normalised floor).
    """
    if mel.shape[1] < MEL_STEP:
        mel = np.pad(mel, ((0, 0), (0, MEL_STEP - mel.shape[1])), constant_values=-MAX_ABS_VALUE)
    last_start = mel.shape[1] - MEL_STEP
    starts = np.minimum((np.arange(n_frames) * (MEL_RATE / fps)).astype(int), last_start)
    return np.stack([mel[:, s : s + MEL_STEP] for s in starts])
