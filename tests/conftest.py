"""Shared fixtures: real photos from installed packages, speech from espeak-ng, an isolated data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image


@pytest.fixture(scope="session")
def assets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("assets")


@pytest.fixture(scope="session")
def astronaut_png(assets_dir: Path) -> Path:
    from skimage import data

    path = assets_dir / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


@pytest.fixture(scope="session")
def cat_png(assets_dir: Path) -> Path:
    from skimage import data

    path = assets_dir / "chelsea.png"
    Image.fromarray(data.chelsea()).save(path)
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point AVATAR_DATA_DIR (SQLite, checkpoints, storage, caches) at a fresh folder for one test."""
    from core.settings import get_settings

    monkeypatch.setenv("AVATAR_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def grace_hopper_jpg() -> Path:
    """matplotlib's public-domain photo of Grace Hopper (US Navy)."""
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
