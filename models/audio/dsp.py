"""The few signal-processing steps the embedded audio path needs, in plain numpy.

They compute what librosa's `stft`, `filters.mel` and `yin` and scipy's `signal.find_peaks` compute with the
arguments used here (tests hold them to those libraries), without their start-up: the first librosa call in a
fresh process imports scipy.signal and numba and compiles its kernels, about 2.5 s of a 10 s clip's budget on
a laptop CPU, every time `avatar generate` starts.
"""

from __future__ import annotations

from functools import cache

import numpy as np

MEL_BREAK_HZ = 1000.0  # Slaney's mel scale: linear below, logarithmic above
MEL_LINEAR_STEP = 200.0 / 3
MEL_LOG_STEP = np.log(6.4) / 27.0


def power_spectrogram(audio: np.ndarray, n_fft: int, hop: int, win: int) -> np.ndarray:
    """|STFT|^2, (1 + n_fft // 2, 1 + len(audio) // hop): frames centred every `hop` samples (zero padding at
    the ends), a periodic Hann window of `win` samples centred in each `n_fft` frame."""
    window = np.zeros(n_fft, np.float32)
    left = (n_fft - win) // 2
    window[left : left + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    padded = np.pad(audio.astype(np.float32), n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    spectrum = np.fft.rfft(frames * window, axis=1)
    return (spectrum.real**2 + spectrum.imag**2).T


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, np.float64)
    linear = hz / MEL_LINEAR_STEP
    log = MEL_BREAK_HZ / MEL_LINEAR_STEP + np.log(np.maximum(hz, 1e-10) / MEL_BREAK_HZ) / MEL_LOG_STEP
    return np.where(hz >= MEL_BREAK_HZ, log, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    linear = MEL_LINEAR_STEP * mel
    log = MEL_BREAK_HZ * np.exp(MEL_LOG_STEP * (mel - MEL_BREAK_HZ / MEL_LINEAR_STEP))
    return np.where(mel >= MEL_BREAK_HZ / MEL_LINEAR_STEP, log, linear)


@cache
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) triangular filters on Slaney's mel scale, each of unit area (Slaney norm)."""
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(rising, falling)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    weights.flags.writeable = False
    return weights.astype(np.float32)


def yin(audio: np.ndarray, fmin: float, fmax: float, sample_rate: int, frame_length: int, hop: int) -> np.ndarray:
    """F0 in Hz of each `frame_length` window starting every `hop` samples (de Cheveigné and Kawahara's YIN:
    the first dip of the cumulative mean normalised difference below 0.1, else its minimum, refined by a
    parabola)."""
    frames = np.lib.stride_tricks.sliding_window_view(audio.astype(np.float32), frame_length)[::hop].T
    min_period = int(np.floor(sample_rate / fmax))
    max_period = min(int(np.ceil(sample_rate / fmin)), frame_length - 1)
    n_pad = 2 * frame_length  # >= 2 * frame_length - 1: the circular autocorrelation does not wrap
    power = np.fft.rfft(frames, n=n_pad, axis=0)
    acf = np.fft.irfft(power.real**2 + power.imag**2, n=n_pad, axis=0)[: max_period + 1]
    energy = np.cumsum(frames**2, axis=0)
    diff = np.zeros((max_period + 1, frames.shape[1]), np.float32)
    diff[1:] = 2 * (acf[:1] - acf[1:]) - energy[:max_period]
    mean = np.cumsum(diff[1:], axis=0) / np.arange(1, max_period + 1, dtype=np.float32)[:, None]
    cmnd = diff[min_period:] / (mean[min_period - 1 :] + np.finfo(np.float32).tiny)
    # parabolic shift of each lag's optimum; 0 where it would leave [lag - 1, lag + 1], and at the ends
    a = cmnd[2:] + cmnd[:-2] - 2 * cmnd[1:-1]
    b = (cmnd[2:] - cmnd[:-2]) / 2
    shifts = np.zeros_like(cmnd)
    inside = np.abs(b) < np.abs(a)
    shifts[1:-1][inside] = -b[inside] / a[inside]
    trough = np.zeros_like(cmnd, bool)
    trough[0] = cmnd[0] < cmnd[1]
    trough[1:-1] = (cmnd[1:-1] < cmnd[:-2]) & (cmnd[1:-1] <= cmnd[2:])
    trough[-1] = cmnd[-1] < cmnd[-2]
    dips = trough & (cmnd < 0.1)
    period = np.where(dips.any(axis=0), dips.argmax(axis=0), cmnd.argmin(axis=0))
    columns = np.arange(cmnd.shape[1])
    return sample_rate / (min_period + period + shifts[period, columns])


def find_peaks(x: np.ndarray, height: float, prominence: float, distance: int) -> np.ndarray:
    """Indices of the local maxima of `x` (a plateau counts at its middle) at least `height` high, the higher
    one kept of two closer than `distance`, that rise at least `prominence` above the higher of the lowest
    points between them and a higher sample on either side."""
    peaks = [p for p in _local_maxima(x).tolist() if x[p] >= height]
    keep = [True] * len(peaks)
    for j in np.argsort(x[peaks])[::-1].tolist():  # highest first; ties in numpy's order, as scipy's
        if keep[j]:  # peaks are in order: only neighbours can be closer than `distance`
            k = j - 1
            while k >= 0 and peaks[j] - peaks[k] < distance:
                keep[k], k = False, k - 1
            k = j + 1
            while k < len(peaks) and peaks[k] - peaks[j] < distance:
                keep[k], k = False, k + 1
    peaks = [p for p, kept in zip(peaks, keep, strict=True) if kept]
    return np.array([p for p in peaks if x[p] - max(_base(x, p, -1), _base(x, p, 1)) >= prominence], np.int64)


def _local_maxima(x: np.ndarray) -> np.ndarray:
    """The samples higher than both neighbours; of a plateau higher than the samples either side of it, its middle
    (the left one of two). A run of equal samples at either end is not a peak."""
    if len(x) < 3:
        return np.zeros(0, np.int64)
    change = np.flatnonzero(x[1:] != x[:-1]) + 1
    starts = np.concatenate([[0], change])  # the runs of equal samples
    ends = np.concatenate([change - 1, [len(x) - 1]])
    inner = (starts > 0) & (ends < len(x) - 1)
    starts, ends = starts[inner], ends[inner]
    higher = (x[starts - 1] < x[starts]) & (x[ends + 1] < x[starts])
    return (starts[higher] + ends[higher]) // 2


def _base(x: np.ndarray, peak: int, step: int) -> float:
    """The lowest sample from `peak` towards `step` before one higher than the peak (or the end)."""
    side = x[peak + 1 :] if step > 0 else x[:peak][::-1]
    higher = np.flatnonzero(side > x[peak])
    side = side[: higher[0]] if len(higher) else side
    return float(min(x[peak], side.min())) if len(side) else float(x[peak])
