"""What the weight-dependent backends report when their weights or devices are missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.errors import BackendUnavailable
from models.audio.transcribe import transcribe, whisper_status
from models.render.sadtalker import SadTalkerRenderer
from models.types import ControlTrack


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    from core.settings import get_settings

    monkeypatch.setenv("AVATAR_WEIGHTS_DIR", str(tmp_path / "weights"))
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_sadtalker_reports_missing_weights_then_its_real_limits(settings_env, tmp_path: Path):
    renderer = SadTalkerRenderer()
    status = renderer.available()
    assert not status.ok and "avatar models download sadtalker" in status.reason
    folder = tmp_path / "weights" / "sadtalker"
    folder.mkdir(parents=True)
    for name in (
        "SadTalker_V0.0.2_256.safetensors",
        "mapping_00109-model.pth.tar",
        "mapping_00229-model.pth.tar",
    ):
        (folder / name).write_bytes(b"x")
    status = renderer.available()
    assert status.ok and status.reason.startswith("sadtalker on ")  # present; auto still needs CUDA (registry)
    controls = ControlTrack(fps=25, channels={"blink": np.zeros(3, np.float32)})
    with pytest.raises(BackendUnavailable, match="cannot read SadTalker checkpoint .*SadTalker_V0.0.2_256"):
        renderer.render(None, controls, tmp_path / "a.wav", None)


def test_whisper_is_off_until_a_model_folder_is_configured(settings_env, tmp_path: Path):
    audio = np.zeros(16_000, np.float32)
    assert transcribe(audio, 16_000) is None
    assert "no whisper model configured" in whisper_status().reason
    from core.settings import get_settings

    settings_env.setenv("AVATAR_WHISPER_MODEL_DIR", str(tmp_path / "whisper-small"))
    get_settings.cache_clear()
    assert transcribe(audio, 16_000) is None
    assert "whisper-small has no model.bin" in whisper_status().reason


def test_the_512_px_checkpoint_is_needed_only_when_configured(settings_env, tmp_path: Path):
    from models.render.sadtalker.renderer import SadTalkerOptions

    folder = tmp_path / "weights" / "sadtalker"
    folder.mkdir(parents=True)
    for name in ("SadTalker_V0.0.2_256.safetensors", "mapping_00109-model.pth.tar", "mapping_00229-model.pth.tar"):
        (folder / name).write_bytes(b"x")
    assert SadTalkerRenderer(SadTalkerOptions(resolution=256)).available().ok
    wanted = SadTalkerRenderer(SadTalkerOptions(resolution=512))
    status = wanted.available()
    assert not status.ok and "put SadTalker_V0.0.2_512.safetensors in" in status.reason
    assert "(avatar models download sadtalker_512)" in status.reason
    (folder / "SadTalker_V0.0.2_512.safetensors").write_bytes(b"x")
    assert wanted.available().ok and wanted.files()["checkpoint"].name == "SadTalker_V0.0.2_512.safetensors"
    with pytest.raises(ValueError, match="resolution 384: 256 or 512"):
        SadTalkerOptions(resolution=384)
