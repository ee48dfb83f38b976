"""Wav2Lip on a full-size random-weight checkpoint in the official layout: the real loading and inference."""

from __future__ import annotations

import time
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch
from checkpoints import random_wav2lip_checkpoint
from scipy.io import wavfile
from test_wav2lip_face import astronaut_face

from core.errors import BackendUnavailable
from models.render.wav2lip import Wav2LipRenderer, face_box, mouth_mask
from models.render.wav2lip_audio import MEL_STEP, mel_windows, melspectrogram
from models.render.wav2lip_net import Wav2Lip, load_wav2lip
from models.types import ControlTrack

SR = 16_000


class ListSink:
    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def write(self, frame_rgb: np.ndarray) -> None:
        self.frames.append(frame_rgb)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_wav2lip_checkpoint(tmp_path_factory.mktemp("w2l") / "wav2lip_gan.pth")


def test_generator_has_the_published_size():
    assert sum(p.numel() for p in Wav2Lip().parameters()) == 36_298_035


def silence_then_vowel(path: Path, seconds: float) -> Path:
    t = np.arange(int(seconds * SR)) / SR
    vowel = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate((140, 280, 700, 1200, 2500)))
    wav = np.where(t < seconds / 2, 0.0, 0.3 * vowel)
    wavfile.write(path, SR, (wav * 32767).astype(np.int16))
    return path


def controls(n: int, fps: int = 25) -> ControlTrack:
    return ControlTrack(fps=fps, channels={"jaw_open": np.zeros(n, np.float32)})


def test_mel_uses_wav2lip_scale_and_frame_rate():
    t = np.arange(SR) / SR
    mel = melspectrogram(0.5 * np.sin(2 * np.pi * 1000 * t))
    assert mel.shape == (80, SR // 200 + 1)
    assert mel.min() >= -4 and mel.max() <= 4
    centres = librosa.mel_frequencies(80 + 2, fmin=55, fmax=7600)[1:-1]
    assert abs(mel[:, 10:-10].mean(axis=1).argmax() - np.abs(centres - 1000).argmin()) <= 1
    assert np.all(melspectrogram(np.zeros(SR)) == -4)


def test_mel_windows_one_per_frame_even_past_the_audio():
    mel = np.random.default_rng(0).normal(size=(80, 90)).astype(np.float32)
    windows = mel_windows(mel, fps=25, n_frames=40)
    assert windows.shape == (40, 80, MEL_STEP)
    assert np.array_equal(windows[1], mel[:, 3:19])  # 80 mel frames/s at 25 fps: frame 1 starts at 3.2 -> 3
    assert np.array_equal(windows[-1], mel[:, -MEL_STEP:])
    assert mel_windows(mel[:, :5], fps=25, n_frames=3).shape == (3, 80, MEL_STEP)


def test_render_regenerates_only_the_mouth_in_sync_with_audio(checkpoint: Path, tmp_path: Path):
    face = astronaut_face()
    wav = silence_then_vowel(tmp_path / "a.wav", 0.8)
    sink = ListSink()
    ticks: list[tuple[int, int]] = []
    started = time.perf_counter()
    report = Wav2LipRenderer(checkpoint, batch_size=8).render(
        face, controls(20), wav, sink, progress=lambda d, n: ticks.append((d, n))
    )
    assert time.perf_counter() - started < 30
    assert report.backend == "wav2lip" and report.frames == 20 and len(sink.frames) == 20
    assert report.ran_on == {"device": "cpu", "precision": "fp32"}
    assert ticks[-1] == (20, 20)
    assert all(f.shape == face.image.shape and f.dtype == np.uint8 for f in sink.frames)

    box = face_box(face.landmarks, face.image.shape)
    x1, y1, x2, y2 = box
    outside = np.ones(face.image.shape[:2], bool)
    outside[y1:y2, x1:x2] = mouth_mask(face.landmarks, box)[..., 0] == 0
    lips = face.landmarks[48:68].astype(int)
    for frame in sink.frames:
        assert np.array_equal(frame[outside], face.image[outside])
        assert np.abs(frame[lips[:, 1], lips[:, 0]].astype(int) - face.image[lips[:, 1], lips[:, 0]]).max() > 0
    # the mouth follows the audio: frames over silence agree with each other, not with frames over the vowel
    mouth = [f[y1:y2, x1:x2].astype(float) for f in sink.frames]
    assert np.abs(mouth[0] - mouth[2]).mean() < np.abs(mouth[0] - mouth[-1]).mean()


def test_more_frames_than_audio_still_renders_every_frame(checkpoint: Path, tmp_path: Path):
    sink = ListSink()
    wav = silence_then_vowel(tmp_path / "short.wav", 0.1)
    report = Wav2LipRenderer(checkpoint, batch_size=16).render(astronaut_face(), controls(6), wav, sink)
    assert report.frames == len(sink.frames) == 6


def test_wrong_checkpoint_layouts_are_refused_clearly(tmp_path: Path, checkpoint: Path):
    bare = tmp_path / "bare.pth"
    torch.save({"model": {}}, bare)
    with pytest.raises(BackendUnavailable, match="official layout"):
        load_wav2lip(bare, "cpu")
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    state.pop("module.output_block.1.weight")
    state["module.output_block.1.bias"] = torch.zeros(4)
    broken = tmp_path / "broken.pth"
    torch.save({"state_dict": state}, broken)
    with pytest.raises(BackendUnavailable, match="1 missing keys.*1 with other shapes"):
        load_wav2lip(broken, "cpu")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(BackendUnavailable, match="cannot read"):
        load_wav2lip(garbage, "cpu")


def test_missing_weights_name_the_file_and_the_download_command(weights_dir: Path):
    status = Wav2LipRenderer().available()
    assert not status.ok
    assert "wav2lip_gan.pth" in status.reason and "avatar models download wav2lip" in status.reason


def test_present_weights_are_available(weights_dir: Path, checkpoint: Path):
    weights_dir.mkdir()
    (weights_dir / "wav2lip_gan.pth").symlink_to(checkpoint)
    status = Wav2LipRenderer().available()
    assert status.ok, status.reason
    assert "cpu" in status.reason or "cuda" in status.reason
