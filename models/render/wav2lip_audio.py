"""Wav2Lip's own mel spectrogram (its audio.py with the hparams it was trained on) and the per-frame windows.

The network only works on exactly this representation: 16 kHz, pre-emphasis 0.97, STFT 800/200/800,
80 mel bands 55-7600 Hz, dB with ref 20 and floor -100, scaled symmetrically to [-4, 4].
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from models.audio.dsp import mel_filterbank, power_spectrogram

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
    return mel_filterbank(SAMPLE_RATE, N_FFT, N_MELS, FMIN, FMAX)


def melspectrogram(wav: np.ndarray) -> np.ndarray:
    """Mono float wav at 16 kHz -> (80, T) normalised log-mel, T = len(wav) // 200 + 1.

    librosa's stft and mel filters in numpy (models.audio.dsp, held to librosa by the tests): librosa's first
    call costs a fresh process 1.5-2.5 s of imports (numba, scipy) and, on a machine that never ran it, numba's
    compilation too."""
    wav = wav.astype(np.float64)
    emphasised = np.concatenate([wav[:1], wav[1:] - PREEMPHASIS * wav[:-1]])  # lfilter([1, -0.97], [1], wav)
    magnitude = np.sqrt(power_spectrogram(emphasised, N_FFT, HOP, WIN))
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
