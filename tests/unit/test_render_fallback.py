"""Backend choice and fallback: a broken neural backend falls back down the chain to warp, and says why."""

import numpy as np
import pytest

from core.settings import get_settings
from models.media.video import probe
from models.render import registry
from models.types import CONTROL_CHANNELS, ControlTrack


@pytest.fixture
def controls() -> ControlTrack:
    return ControlTrack(fps=25, channels={k: np.zeros(20, np.float32) for k in CONTROL_CHANNELS})


def test_auto_without_weights_is_warp_and_names_the_missing_files(data_dir):
    chosen, skipped = registry.choose("auto")
    assert chosen == "warp"
    assert any("wav2lip_gan.pth" in s and "avatar models download wav2lip" in s for s in skipped)


def test_a_failing_backend_falls_back_to_warp_and_is_recorded(astronaut_face, controls, tone_wav, data_dir, tmp_path):
    pytest.importorskip("torch")
    registry.get_renderer.cache_clear()
    weights = get_settings().weights_dir
    weights.mkdir(parents=True)
    (weights / "wav2lip_gan.pth").write_bytes(b"not a checkpoint")  # present, so planned; unreadable, so it fails

    assert registry.choose("auto")[0] == "wav2lip"
    result = registry.render_with_fallback("wav2lip", astronaut_face, controls, tone_wav, tmp_path / "v.mp4")
    registry.get_renderer.cache_clear()
    assert result.backend == "warp"
    assert "wav2lip failed" in result.describe()
    assert any("fell back" in w for w in result.warnings)
    assert probe(tmp_path / "v.mp4")["frames"] == 20
