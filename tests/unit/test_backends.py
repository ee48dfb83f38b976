"""One registry for renderers and enhancers: the plan says what runs, on which pool, and why; a broken
backend falls back down the chain to warp and says why."""

import numpy as np
import pytest

from core.settings import get_settings
from models.backends import ENHANCERS, RENDERERS, Choice, forget_instances
from models.media.video import probe
from models.render.fallback import render_planned
from models.types import CONTROL_CHANNELS, ControlTrack


@pytest.fixture
def controls() -> ControlTrack:
    return ControlTrack(fps=25, channels={k: np.zeros(20, np.float32) for k in CONTROL_CHANNELS})


@pytest.fixture
def fresh_backends():
    forget_instances()
    yield
    forget_instances()


def test_auto_without_weights_is_warp_and_names_the_missing_files(data_dir):
    choice = RENDERERS.choose("auto")
    assert (choice.name, choice.resource) == ("warp", "cpu")
    assert [t.split(":")[0] for t in choice.tried] == ["sadtalker", "wav2lip"]
    assert "SadTalker_V0.0.2_256.safetensors" in choice.reason
    assert "wav2lip_gan.pth" in choice.reason and "avatar models download wav2lip" in choice.reason
    assert choice.reason.endswith("-> warp")


def test_asking_for_a_backend_walks_the_chain_from_it(data_dir):
    choice = RENDERERS.choose("sadtalker")
    assert choice.name == "warp"
    assert [t.split(":")[0] for t in choice.tried] == ["sadtalker", "wav2lip"]
    assert RENDERERS.choose("warp") == Choice("warp", "cpu", "warp (asked for)", [])
    with pytest.raises(ValueError, match="unknown renderer 'vasa'; choose one of auto, sadtalker, wav2lip, warp"):
        RENDERERS.choose("vasa")


def test_a_choice_survives_the_state(data_dir):
    choice = ENHANCERS.choose("auto")
    assert Choice.of(choice.as_dict()) == choice
    assert choice.name == "none" and choice.resource == "cpu" and "gfpgan" in choice.reason


def test_a_failing_backend_falls_back_to_warp_and_is_recorded(
    astronaut_face, controls, tone_wav, data_dir, tmp_path, fresh_backends
):
    pytest.importorskip("torch")
    weights = get_settings().weights_dir
    weights.mkdir(parents=True)
    (weights / "wav2lip_gan.pth").write_bytes(b"not a checkpoint")  # present, so planned; unreadable, so it fails

    planned = RENDERERS.choose("auto")
    assert (planned.name, planned.resource) == ("wav2lip", "gpu")
    result = render_planned(planned, astronaut_face, controls, tone_wav, tmp_path / "v.mp4")
    assert result.choice.name == "warp" and result.choice.resource == "cpu"
    assert "wav2lip failed" in result.choice.reason
    assert any("fell back to warp" in w for w in result.warnings)
    assert probe(tmp_path / "v.mp4")["frames"] == 20
