"""The numpy signal steps compute what librosa and scipy compute, on real espeak-ng speech; and they spare a fresh
process librosa's and scipy.signal's start-up."""

from __future__ import annotations

import subprocess
import sys

import librosa
import numpy as np
import pytest
import scipy.signal

from models.audio import dsp
from models.audio.espeak_lib import speak_with_phonemes
from models.audio.io import resample
from models.audio.prosody import prosody

SR = 16_000


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    s = speak_with_phonemes("Bob bought a map, and the quiet fox sings a song.", "en-us+f3")
    return resample(s.audio.astype(np.float32) / 32768, s.sample_rate)


def test_power_spectrogram_and_mel_filters_equal_librosas(speech):
    ours = dsp.power_spectrogram(speech, 512, 160, 400)
    theirs = np.abs(librosa.stft(speech, n_fft=512, hop_length=160, win_length=400, center=True)) ** 2
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() < 1e-5 * theirs.max()
    mel = librosa.filters.mel(sr=SR, n_fft=512, n_mels=40, fmin=60, fmax=7600)
    assert np.allclose(dsp.mel_filterbank(SR, 512, 40, 60.0, 7600.0), mel, rtol=1e-5, atol=1e-8)


def test_yin_equals_librosas(speech):
    padded = np.pad(speech, (320, 640))
    ours = dsp.yin(padded, 65.0, 400.0, SR, 640, 160)
    theirs = librosa.yin(padded, fmin=65, fmax=400, sr=SR, frame_length=640, hop_length=160, center=False)
    assert ours.shape == theirs.shape
    assert np.mean(np.abs(ours - theirs) < 0.5) > 0.99  # float rounding may flip a dip at the 0.1 threshold
    voiced = prosody(speech).pitch_hz
    assert 150 < np.median(voiced[voiced > 0]) < 350  # a female voice


def test_find_peaks_equals_scipys(speech):
    loudness = prosody(speech).loudness
    for curve in (np.convolve(loudness, np.hanning(9) / np.hanning(9).sum(), mode="same"), np.clip(loudness, 0, 0.6)):
        expected, _ = scipy.signal.find_peaks(curve, height=0.45, prominence=0.08, distance=10)
        assert len(expected) > 3
        assert np.array_equal(dsp.find_peaks(curve, 0.45, 0.08, 10), expected)


def test_the_audio_analysis_imports_neither_librosa_nor_scipy_signal():
    code = (
        "import sys; import models.audio.analysis, models.audio.phones, models.audio.prosody; "
        "print(sorted(m for m in ('librosa', 'scipy.signal', 'numba', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
