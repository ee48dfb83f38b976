"""Wav2Lip and GFPGAN on CUDA: the same inference code as on CPU, agreeing with it. Skipped without CUDA.

Run on a GPU machine:  .venv/bin/pytest -m gpu tests/gpu -q
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from checkpoints import random_wav2lip_checkpoint  # noqa: E402
from test_wav2lip_face import astronaut_face  # noqa: E402

from models.enhance.gfpgan import GFPGANEnhancer  # noqa: E402
from models.enhance.gfpgan_arch import GFPGANv1Clean  # noqa: E402
from models.render.wav2lip import Wav2LipRenderer  # noqa: E402
from models.types import ControlTrack  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


class ListSink:
    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def write(self, frame_rgb: np.ndarray) -> None:
        self.frames.append(frame_rgb)


def use_device(monkeypatch: pytest.MonkeyPatch, device: str) -> None:
    from core.settings import get_settings

    monkeypatch.setenv("AVATAR_DEVICE", device)
    get_settings.cache_clear()


@pytest.fixture
def restore_settings() -> Iterator[None]:
    from core.settings import get_settings

    yield
    get_settings.cache_clear()


def test_wav2lip_on_cuda_matches_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_settings: None):
    from scipy.io import wavfile

    checkpoint = random_wav2lip_checkpoint(tmp_path / "wav2lip_gan.pth")
    t = np.arange(32_000) / 16_000
    wavfile.write(tmp_path / "a.wav", 16_000, (8000 * np.sin(2 * np.pi * 220 * t) * (t > 1)).astype(np.int16))
    face = astronaut_face()
    controls = ControlTrack(fps=25, channels={"jaw_open": np.zeros(50, np.float32)})
    frames = {}
    for device in ("cpu", "cuda"):
        use_device(monkeypatch, device)
        renderer = Wav2LipRenderer(checkpoint)
        assert renderer.available().reason.startswith(f"wav2lip on {device}")
        sink = ListSink()
        report = renderer.render(face, controls, tmp_path / "a.wav", sink)
        assert report.frames == len(sink.frames) == 50 and f"wav2lip on {device}" in report.notes
        frames[device] = np.stack(sink.frames).astype(int)
    assert np.abs(frames["cpu"] - frames["cuda"]).mean() < 1.0


def test_full_size_gfpgan_runs_on_cuda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_settings: None):
    torch.manual_seed(0)
    path = tmp_path / "GFPGANv1.4.pth"
    torch.save({"params_ema": GFPGANv1Clean().state_dict()}, path)
    use_device(monkeypatch, "cuda")
    face = astronaut_face()
    out = GFPGANEnhancer(path).enhance(face.image, face.landmarks)
    assert out.shape == face.image.shape and out.dtype == np.uint8
