"""Frame-level viseme classification from audio alone: log-mel frames with context -> small MLP -> Viterbi.

Trained by scripts/train_viseme_classifier.py on espeak-ng speech labelled with espeak-ng's phoneme timing;
the weights ship as viseme_classifier.npz beside this file. Used when no transcript is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from core.errors import BackendUnavailable
from models.audio.dsp import mel_filterbank, power_spectrogram

WEIGHTS = Path(__file__).with_name("viseme_classifier.npz")
SAMPLE_RATE = 16_000
HOP = 160  # 100 frames per second
N_FFT, WIN = 512, 400
N_MELS = 40
MEL_FMIN, MEL_FMAX = 60.0, 7600.0
CONTEXT = (-12, -8, -5, -3, -2, -1, 0, 1, 2, 3, 5, 8, 12)  # frame offsets stacked into one input
FRAME_RATE = SAMPLE_RATE // HOP
STAY_LOGPROB = np.log(0.9)  # Viterbi: a class tends to last several frames


def mel_frames(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw log-mel (n_frames, N_MELS) and log energy (n_frames,); frame i is centred at (i + 0.5) / 100 s and
    depends only on the samples within N_FFT / 2 of its centre."""
    n = int(np.ceil(len(audio) / HOP))
    spec = power_spectrogram(audio[HOP // 2 :], N_FFT, HOP, WIN)
    spec = np.pad(spec, ((0, 0), (0, max(0, n - spec.shape[1]))))[:, :n]
    mel = mel_filterbank(SAMPLE_RATE, N_FFT, N_MELS, MEL_FMIN, MEL_FMAX)
    return np.log(mel @ spec + 1e-8).T, np.log(spec.sum(axis=0) + 1e-8)[:n]


def normalise(logmel: np.ndarray, energy: np.ndarray, mean: np.ndarray, std: np.ndarray, peak: float) -> np.ndarray:
    """(n, N_MELS + 1) classifier base features: log-mel standardised by `mean`/`std` (removes level, channel
    and some speaker traits) and energy relative to the `peak` of loud speech (keeps silence)."""
    rel_energy = np.maximum(energy - peak, -20.0) / 10.0 + 1.0
    return np.hstack([(logmel - mean) / (std + 1e-3), rel_energy[:, None]]).astype(np.float32)


def stack_context(base: np.ndarray) -> np.ndarray:
    """(n, len(CONTEXT) * width): each frame with its CONTEXT neighbours, repeating the edge frames."""
    n = len(base)
    idx = np.clip(np.arange(n)[:, None] + np.array(CONTEXT)[None, :], 0, n - 1)
    return base[idx].reshape(n, -1)


def frame_features(audio: np.ndarray) -> np.ndarray:
    """(n_frames, len(CONTEXT) * (N_MELS + 1)) features of a whole clip, normalised by the clip's own statistics."""
    logmel, energy = mel_frames(audio)
    return stack_context(normalise(logmel, energy, logmel.mean(axis=0), logmel.std(axis=0), energy.max()))


@dataclass
class VisemeClassifier:
    mean: np.ndarray
    std: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]  # (W, b); ReLU between, softmax at the end
    classes: tuple[str, ...]

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> VisemeClassifier:
        if not path.exists():
            raise BackendUnavailable(
                f"viseme classifier weights missing at {path}; run scripts/train_viseme_classifier.py"
            )
        with np.load(path) as z:
            n_layers = int(z["n_layers"])
            layers = [(z[f"W{i}"].astype(np.float32), z[f"b{i}"].astype(np.float32)) for i in range(n_layers)]
            return cls(z["mean"], z["std"], layers, tuple(str(c) for c in z["classes"]))

    def save(self, path: Path) -> None:
        weights = {f"W{i}": w.astype(np.float16) for i, (w, _) in enumerate(self.layers)}
        biases = {f"b{i}": b.astype(np.float32) for i, (_, b) in enumerate(self.layers)}
        np.savez_compressed(
            path,
            mean=self.mean,
            std=self.std,
            classes=np.array(self.classes),
            n_layers=len(self.layers),
            **weights,
            **biases,
        )

    def log_probs(self, features: np.ndarray) -> np.ndarray:
        """(n_frames, n_classes) log posteriors."""
        h = (features - self.mean) / self.std
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0)
        h = h - h.max(axis=1, keepdims=True)
        return h - np.log(np.exp(h).sum(axis=1, keepdims=True))

    def decode(self, audio: np.ndarray) -> np.ndarray:
        """Most likely class index per 10 ms frame, with few spurious switches."""
        return viterbi(self.log_probs(frame_features(audio)))


def viterbi(log_probs: np.ndarray, previous: int | None = None) -> np.ndarray:
    """Best class path; `previous` is the class of the frame just before these (a stream decodes in windows)."""
    n, k = log_probs.shape
    switch = np.log((1 - np.exp(STAY_LOGPROB)) / (k - 1))
    trans = np.full((k, k), switch)
    np.fill_diagonal(trans, STAY_LOGPROB)
    score = log_probs[0] + (trans[previous] if previous is not None else 0.0)
    back = np.zeros((n, k), dtype=np.int16)
    for i in range(1, n):
        cand = score[:, None] + trans
        back[i] = cand.argmax(axis=0)
        score = cand.max(axis=0) + log_probs[i]
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(score.argmax())
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


@cache
def load_classifier() -> VisemeClassifier:
    return VisemeClassifier.load()
