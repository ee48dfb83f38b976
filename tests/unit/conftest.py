"""Fixtures for the face, warp, media and eval tests (the astronaut analysed once per session), and a fresh
weights folder for the weights and neural backend tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from models.face.analysis import FaceAnalysis


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def analysed_aside(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., FaceAnalysis]:
    """Analyse a photo framed at `size` px (default 512) with its face cache in a data dir of its own."""
    from core.settings import get_settings
    from models.face.analysis import analyze_face

    def analysed(photo: np.ndarray, size: int = 512) -> FaceAnalysis:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AVATAR_DATA_DIR", str(tmp_path_factory.mktemp("face-data")))
            get_settings.cache_clear()
            face = analyze_face(photo, size=size)
        get_settings.cache_clear()
        return face

    return analysed


@pytest.fixture(scope="session")
def astronaut_face(astronaut: np.ndarray, analysed_aside: Callable[..., FaceAnalysis]) -> FaceAnalysis:
    return analysed_aside(astronaut)


@pytest.fixture
def weights_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point AVATAR_WEIGHTS_DIR at a fresh (not yet created) folder for one test."""
    from core.settings import get_settings

    monkeypatch.setenv("AVATAR_WEIGHTS_DIR", str(tmp_path / "weights"))
    get_settings.cache_clear()
    yield tmp_path / "weights"
    get_settings.cache_clear()


class FrameList:
    """A FrameSink that keeps the frames (short clips only)."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def write(self, frame_rgb: np.ndarray) -> None:
        self.frames.append(frame_rgb)


@pytest.fixture
def frame_list() -> FrameList:
    return FrameList()


@pytest.fixture
def tone_wav(tmp_path: Path) -> Path:
    from models.audio.io import write_wav

    t = np.arange(int(16_000 * 1.3)) / 16_000
    path = tmp_path / "tone.wav"
    write_wav(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    return path
