"""One registry for renderers and enhancers: the plan says what runs, on which pool, and why; a broken
backend falls back down the chain to warp and says why."""

import numpy as np
import pytest

from core.settings import get_settings
from models.backends import ENHANCERS, RENDERERS, Choice, forget_instances
from models.device import cuda_available, cuda_status
from models.media.video import probe
from models.render.fallback import render_planned
from models.types import CONTROL_CHANNELS, Availability, ControlTrack


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


def sadtalker_files_present() -> None:
    """The SadTalker files in place (their presence is what planning checks; these would not load)."""
    folder = get_settings().weights_dir / "sadtalker"
    folder.mkdir(parents=True)
    for name in ("SadTalker_V0.0.2_256.safetensors", "mapping_00109-model.pth.tar", "mapping_00229-model.pth.tar"):
        (folder / name).write_bytes(b"placeholder")


def test_auto_plans_sadtalker_where_the_gpu_workers_have_cuda(data_dir, fresh_backends):
    pytest.importorskip("torch")
    sadtalker_files_present()
    pool = Availability(True, "gpu worker avatar-gpu-1@box: CUDA: 1 x NVIDIA H200")
    planned = RENDERERS.choose("auto", gpu=lambda: pool)
    assert (planned.name, planned.resource, planned.needs_cuda) == ("sadtalker", "gpu", True)
    assert planned.reason == "sadtalker (auto, on a GPU: gpu worker avatar-gpu-1@box: CUDA: 1 x NVIDIA H200)"
    assert Choice.of(planned.as_dict()) == planned  # the flag travels in the job's state

    none = Availability(False, "no CUDA device: no gpu worker is running (avatar worker --queues gpu)")
    fallback = RENDERERS.choose("auto", gpu=lambda: none)
    assert fallback.name == "warp" and not fallback.needs_cuda
    assert fallback.tried[0] == f"sadtalker: {none.reason} (auto takes it on a GPU only; ask for sadtalker)"
    by_name = RENDERERS.choose("sadtalker", gpu=lambda: none)  # asked for by name: runs anywhere, no GPU required
    assert (by_name.name, by_name.needs_cuda) == ("sadtalker", False)


def test_work_planned_for_a_gpu_is_refused_without_cuda_and_falls_back_recorded(
    astronaut_face, controls, tone_wav, data_dir, tmp_path, fresh_backends
):
    pytest.importorskip("torch")
    if cuda_available():
        pytest.skip("this machine has CUDA: it runs the work it was planned for")
    sadtalker_files_present()
    planned = RENDERERS.choose("auto", gpu=lambda: Availability(True, "gpu worker elsewhere: CUDA"))
    result = render_planned(planned, astronaut_face, controls, tone_wav, tmp_path / "v.mp4")
    refusal = f"sadtalker was planned for a CUDA device, and this worker has none ({cuda_status().reason})"
    assert cuda_status().reason.startswith("no CUDA device: ")
    assert result.choice.name == "warp" and f"sadtalker failed: {refusal}" in result.choice.reason
    assert result.warnings[0] == f"renderer sadtalker failed ({refusal}; auto runs it on a GPU only); fell back to warp"
    assert probe(tmp_path / "v.mp4")["frames"] == 20  # the placeholder files were never read: refused first


def test_planning_asks_this_machine_when_gpu_work_runs_here(data_dir, monkeypatch):
    from models.device import gpu_for_planning

    assert gpu_for_planning() == cuda_status()  # embedded: no broker
    monkeypatch.setenv("AVATAR_BROKER_URL", "memory://")  # a broker that keeps no list of gpu workers
    get_settings.cache_clear()
    assert gpu_for_planning() == cuda_status()
