"""What the neural renderers pay per process before their networks run: Wav2Lip's mel spectrogram and the speech
decode without librosa (whose first call costs 1.5-2.5 s of imports, and on a machine that never ran it numba's
compilation: 17-21 s on the H200 lease, docs/benchmarks.md), and checkpoints loaded without the random
initialisation a strict load overwrites."""

from __future__ import annotations

import subprocess
import sys

import librosa
import numpy as np
import pytest
import scipy.signal
import torch
from scipy.io import wavfile
from torch import nn

from models.audio.io import decode_audio
from models.checkpoint import RANDOM_INITS, load_strict, skeleton
from models.render import wav2lip_audio as w2l


def librosa_melspectrogram(wav: np.ndarray) -> np.ndarray:
    """Wav2Lip's audio.py as it was written (scipy's lfilter, librosa's stft and filters)."""
    emphasised = scipy.signal.lfilter([1, -w2l.PREEMPHASIS], [1], wav.astype(np.float64))
    magnitude = np.abs(librosa.stft(y=emphasised, n_fft=w2l.N_FFT, hop_length=w2l.HOP, win_length=w2l.WIN))
    basis = librosa.filters.mel(sr=w2l.SAMPLE_RATE, n_fft=w2l.N_FFT, n_mels=w2l.N_MELS, fmin=w2l.FMIN, fmax=w2l.FMAX)
    db = 20 * np.log10(np.maximum(np.exp(w2l.MIN_LEVEL_DB / 20 * np.log(10)), basis @ magnitude)) - w2l.REF_LEVEL_DB
    scaled = 2 * w2l.MAX_ABS_VALUE * (db - w2l.MIN_LEVEL_DB) / -w2l.MIN_LEVEL_DB - w2l.MAX_ABS_VALUE
    return np.clip(scaled, -w2l.MAX_ABS_VALUE, w2l.MAX_ABS_VALUE).astype(np.float32)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory):
    from models.audio.tts import synthesize

    return synthesize("Bob bought a map, and the quiet fox sings.", tmp_path_factory.mktemp("speech") / "s.wav")


def test_the_mel_spectrogram_equals_wav2lips_librosa_one(speech):
    wav, _ = librosa.load(speech, sr=w2l.SAMPLE_RATE)
    ours, theirs = w2l.melspectrogram(wav), librosa_melspectrogram(wav)
    assert ours.shape == theirs.shape == (80, len(wav) // w2l.HOP + 1)
    assert np.abs(ours - theirs).max() < 1e-3  # of the [-4, 4] scale: float32 FFT against librosa's float64


@pytest.mark.parametrize("rate", [16_000, 22_050])
def test_the_speech_decodes_as_librosa_loads_it(tmp_path, speech, rate):
    wav, _ = librosa.load(speech, sr=None)
    path = tmp_path / f"speech_{rate}.wav"
    pcm = librosa.resample(wav, orig_sr=w2l.SAMPLE_RATE, target_sr=rate) if rate != w2l.SAMPLE_RATE else wav
    wavfile.write(path, rate, (np.clip(pcm, -1, 1) * 32767).astype(np.int16))
    ours, (theirs, _) = decode_audio(path, w2l.SAMPLE_RATE), librosa.load(path, sr=w2l.SAMPLE_RATE)
    if rate == w2l.SAMPLE_RATE:  # the pipeline's speech: the same samples
        assert np.array_equal(ours, theirs)
    else:  # another resampler (FFmpeg's, not soxr): the same signal
        n = min(len(ours), len(theirs))
        assert abs(len(ours) - len(theirs)) <= 2
        assert np.corrcoef(ours[:n], theirs[:n])[0, 1] > 0.999


def test_the_neural_renderers_audio_imports_neither_librosa_nor_numba_nor_scipy_signal(speech):
    code = (
        "import sys; from pathlib import Path; "
        "import models.render.sadtalker.renderer, models.render.sadtalker.animate, models.render.sadtalker.audio; "
        "import models.render.sadtalker.loading, models.render.wav2lip, models.render.dub_wav2lip; "
        "from models.audio.io import decode_audio; from models.render.sadtalker.audio import frame_mels; "
        f"frame_mels(decode_audio(Path({str(speech)!r})), 25, 40); "
        "print(sorted(m for m in ('librosa', 'numba', 'scipy.signal') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.norm = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(self.conv(x)).mean((2, 3)))


def test_a_skeleton_skips_the_random_fills_and_a_strict_load_gives_it_the_files_tensors(tmp_path):
    state = {k: (torch.rand_like(v.float()) + 0.5).to(v.dtype) for k, v in Net().state_dict().items()}
    torch.manual_seed(0)
    net = skeleton(Net)
    after = torch.rand(1)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(1))  # no random fill drew from the generator
    assert all(getattr(nn.init, name).__module__ == "torch.nn.init" for name in RANDOM_INITS if hasattr(nn.init, name))

    loaded = load_strict(net, state, tmp_path / "net.pth", "the test net", "", assign=True)
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key
    reference = Net()
    reference.load_state_dict(state)
    x = torch.randn(2, 3, 5, 5)
    assert torch.equal(loaded.eval()(x), reference.eval()(x))
