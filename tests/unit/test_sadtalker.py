"""SadTalker on full-size random-weight checkpoints in the official layouts, saved under the official file
names: strict loading (and clear refusals), the audio-to-coefficient step, and the whole renderer on a real photo
and real speech. The face renderer runs at 128 px instead of 256 (full-size networks; two CPU cores here)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from checkpoints import random_mapping_checkpoint, random_sadtalker_checkpoint, random_wav2lip_checkpoint
from safetensors.torch import save_file

from core.errors import BackendUnavailable
from models.render.sadtalker import SadTalkerRenderer
from models.render.sadtalker.animate import Drive, coefficients
from models.render.sadtalker.audio import frame_mels
from models.render.sadtalker.crop import face_crop, face_mask
from models.render.sadtalker.loading import load_mapping, load_nets
from models.render.sadtalker.renderer import SadTalkerOptions, cpu_has_native_bf16
from models.types import ControlTrack

SR = 16_000


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sadtalker")
    return {
        "checkpoint": random_sadtalker_checkpoint(folder / "SadTalker_V0.0.2_256.safetensors"),
        "mapping_229": random_mapping_checkpoint(folder / "mapping_00229-model.pth.tar", 70),
        "mapping_109": random_mapping_checkpoint(folder / "mapping_00109-model.pth.tar", 73),
    }


@pytest.fixture(scope="module")
def nets(files):
    return load_nets(files["checkpoint"])


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from models.audio.tts import synthesize

    return synthesize("Hello, my name is Sam.", tmp_path_factory.mktemp("speech") / "hello.wav")


@pytest.fixture(scope="module")
def speech_mels(speech: Path) -> torch.Tensor:
    import librosa

    wav, _ = librosa.load(speech, sr=SR)
    return torch.from_numpy(frame_mels(wav, 25, int(len(wav) / SR * 25)))


def test_the_checkpoint_has_the_official_size_and_loads(files, nets):
    assert files["checkpoint"].stat().st_size == 725_066_984
    assert sum(p.numel() for p in nets.parameters()) == 181_064_409
    assert not nets.training
    assert load_mapping(files["mapping_229"]).coeff_nc == 70
    assert load_mapping(files["mapping_109"]).coeff_nc == 73


def test_the_networks_hold_the_files_tensors(files, nets):
    from safetensors.torch import load_file

    state = load_file(files["checkpoint"])
    assert set(nets.state_dict()) == set(state)
    assert all(torch.equal(value, state[key]) for key, value in nets.state_dict().items())


@pytest.mark.parametrize("name", ["SadTalker_V0.0.2_256.safetensors", "SadTalker_V0.0.2_512.safetensors"])
def test_a_truncated_or_foreign_checkpoint_is_refused_naming_the_file_and_first_bad_keys(files, nets, tmp_path, name):
    cut = tmp_path / name
    with files["checkpoint"].open("rb") as src, cut.open("wb") as dst:
        dst.write(src.read(50_000_000))
    with pytest.raises(BackendUnavailable, match=re.escape(f"cannot read SadTalker checkpoint {cut} ")):
        load_nets(cut)

    wrong = tmp_path / "wrong" / name
    wrong.parent.mkdir()
    state = {f"kp_extractor.{k}": v for k, v in nets.kp_extractor.state_dict().items()}
    state["kp_extractor.kp.weight"] = torch.zeros(16, 32, 3, 3, 3)  # 16 keypoints: another model
    save_file(state, wrong)
    with pytest.raises(BackendUnavailable) as refused:
        load_nets(wrong)
    message = str(refused.value)
    assert message.startswith(f"{wrong} does not match SadTalker")
    assert "missing keys ['audio2exp.audio_encoder.0.conv_block.0.bias'" in message
    assert "with other shapes ['kp_extractor.kp.weight']" in message


@pytest.mark.parametrize("name, key", [("mapping_00229-model.pth.tar", "mapping_229"),
                                       ("mapping_00109-model.pth.tar", "mapping_109")])  # fmt: skip
def test_a_truncated_or_foreign_mapping_file_is_refused_naming_the_file_and_first_bad_key(files, tmp_path, name, key):
    cut = tmp_path / "cut" / name
    cut.parent.mkdir()
    cut.write_bytes(files[key].read_bytes()[:1_000_000])
    with pytest.raises(BackendUnavailable, match=re.escape(f"cannot read SadTalker mapping checkpoint {cut}: ")):
        load_mapping(cut)

    (tmp_path / "wav2lip").mkdir()
    wav2lip = random_wav2lip_checkpoint(tmp_path / "wav2lip" / name)
    with pytest.raises(BackendUnavailable, match="is not a SadTalker mapping checkpoint: expected the official layout"):
        load_mapping(wav2lip)

    partial = tmp_path / "partial" / name
    partial.parent.mkdir()
    stored = torch.load(files[key], weights_only=True)
    del stored["mapping"]["fc_exp.bias"]
    torch.save(stored, partial)
    with pytest.raises(BackendUnavailable) as refused:
        load_mapping(partial)
    assert str(refused.value).startswith(
        f"{partial} does not match the SadTalker mapping network: 1 missing keys ['fc_exp.bias']"
    )


def test_coefficients_from_speech(nets, speech_mels):
    n = len(speech_mels)
    photo = np.random.default_rng(0).normal(size=73).astype(np.float32)
    blink = np.zeros(n, np.float32)
    coeffs = coefficients(nets, speech_mels, photo, Drive(blink, seed=1))
    assert coeffs.shape == (n, 70) and n > 32  # more than one audio2pose chunk
    assert np.array_equal(coeffs, coefficients(nets, speech_mels, photo, Drive(blink, seed=1)))
    assert not np.allclose(coeffs[:, 64:], coefficients(nets, speech_mels, photo, Drive(blink, seed=2))[:, 64:])
    other_style = coefficients(nets, speech_mels, photo, Drive(blink, pose_style=30, seed=1))
    assert not np.allclose(coeffs[:, 64:], other_style[:, 64:])
    assert np.allclose(coeffs[:, :64], other_style[:, :64])  # the style moves the head only

    still = coefficients(nets, speech_mels, photo, Drive(blink, pose="photo"))
    assert np.array_equal(still[:, 64:], np.repeat(photo[None, 64:70], n, axis=0))
    assert np.allclose(still[:, :64], coeffs[:, :64])
    half = coefficients(nets, speech_mels, photo, Drive(blink, pose="photo", expression_scale=0.5))
    assert np.allclose(half[:, :64], 0.5 * still[:, :64], atol=1e-6)

    blink[10:15] = [0.5, 0.9, 1.0, 0.9, 0.5]  # our blink times drive audio2exp's eye-blink input
    blinking = coefficients(nets, speech_mels, photo, Drive(blink, pose="photo"))
    changed = np.abs(blinking[:, :64] - still[:, :64]).max(axis=1) > 1e-6
    assert changed[10:15].all() and not changed[:10].any() and not changed[15:].any()


def controls(n: int) -> ControlTrack:
    channels = {k: np.zeros(n, np.float32) for k in ("jaw_open", "blink", "head_yaw", "head_pitch", "head_roll")}
    channels["blink"][1] = 1.0
    channels["head_yaw"] = np.linspace(0, 8, n, dtype=np.float32)
    return ControlTrack(fps=25, channels=channels)


def test_still_mode_pastes_the_face_back_and_leaves_the_rest_untouched(files, astronaut_face, speech, frame_list):
    renderer = SadTalkerRenderer(
        SadTalkerOptions(mode="still"), {"checkpoint": files["checkpoint"], "mapping": files["mapping_109"]}, side=128
    )
    assert renderer.available().ok
    report = renderer.render(astronaut_face, controls(3), speech, frame_list)
    photo = astronaut_face.image
    assert report.frames == len(frame_list.frames) == 3
    crop = face_crop(astronaut_face.landmarks, photo.shape)
    outside = np.ones(photo.shape[:2], bool)
    outside[crop.y0 : crop.y1, crop.x0 : crop.x1] = face_mask(astronaut_face.landmarks, crop)[..., 0] == 0
    for frame in frame_list.frames:
        assert frame.shape == photo.shape and frame.dtype == np.uint8
        assert np.array_equal(frame[outside], photo[outside])
        assert (frame[~outside] != photo[~outside]).any()  # the face is SadTalker's (noise, from random weights)
    assert "sadtalker still on cpu fp32" in report.notes and "head still (the photo's pose)" in report.notes
    assert report.ran_on == {"device": "cpu", "precision": "fp32"}


def test_a_job_records_where_expression_blinks_and_head_motion_came_from(files, astronaut_png, data_dir, monkeypatch):
    """A whole job in crop mode, head motion from our control track, bfloat16 asked for the generator (under
    autocast where this CPU has native bfloat16, the code path CUDA runs in float16; else float32, said): the
    job's record names each source and the precision."""
    import uuid

    from core.storage import open_storage
    from models import backends
    from models.media.video import probe
    from pipeline.runner import new_job_state, run_in_process

    renderer = SadTalkerRenderer(
        SadTalkerOptions(mode="crop", pose="control", batch_size=2, precision="bf16"),
        {"checkpoint": files["checkpoint"], "mapping": files["mapping_229"]},
        side=128,  # the registered renderer would run at 256 px: minutes here
    )
    registered = backends._instance
    monkeypatch.setattr(backends, "_instance", lambda t: renderer if "sadtalker" in t else registered(t))
    job_id = uuid.uuid4().hex
    image_key = open_storage().store(f"jobs/{job_id}/input/image.png", astronaut_png)
    options = {"backend": "sadtalker", "enhancer": "none", "size": 128, "fps": 5}
    final = run_in_process(new_job_state(job_id, image_key, None, "Hi there.", options))

    assert final["plan"]["renderer"]["name"] == "sadtalker"
    assert final["backends"]["video_generation"] == "sadtalker (sadtalker on cpu (no CUDA device; slower))"
    precision = "bf16" if cpu_has_native_bf16() else "fp32 (bf16 asked; this CPU has no native bfloat16)"
    for note in (
        f"sadtalker crop on cpu {precision}",
        "expression from audio2exp, blinks from the control track",
        "head motion from the control track",
    ):
        assert note in final["warnings"], final["warnings"]
    assert final["render_device"] == {"device": "cpu", "precision": precision.split(" ")[0]}  # what ran, not asked
    info = probe(open_storage().fetch(final["output_key"]))
    assert (info["width"], info["height"]) == (128, 128) and info["frames"] == round(final["duration"] * 5)


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bfloat16 (emulated: minutes a frame)")
def test_the_generator_runs_in_the_precision_asked_for(nets, files, astronaut):
    from models.render.sadtalker.animate import Animator

    mapping = load_mapping(files["mapping_229"])
    source = torch.from_numpy(astronaut[:256:2, 128:384:2].copy()).permute(2, 0, 1)[None].float().div(255)
    photo = np.random.default_rng(0).normal(size=73).astype(np.float32)
    coeffs = np.random.default_rng(1).normal(size=(1, 70)).astype(np.float32)
    animator = Animator(nets, mapping, source, photo)
    seen: list[torch.dtype] = []
    hook = nets.generator.decoder.conv_img.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    try:
        full = torch.cat(list(animator.render(coeffs, 1)))
        bf16 = torch.cat(list(animator.render(coeffs, 1, dtype=torch.bfloat16)))
    finally:
        hook.remove()
    assert seen == [torch.float32, torch.bfloat16]  # the last convolution ran in the autocast precision
    assert full.dtype == bf16.dtype == torch.float32 and bf16.shape == full.shape == (1, 3, 128, 128)
    assert torch.isfinite(bf16).all() and 0 < float((bf16 - full).abs().mean()) < 0.05


def test_options_are_checked():
    with pytest.raises(ValueError, match="sadtalker mode 'full': choose one of still, crop"):
        SadTalkerOptions(mode="full")
    with pytest.raises(ValueError, match="pose_style 46: 0 to 45"):
        SadTalkerOptions(pose_style=46)
    with pytest.raises(ValueError, match="precision 'int8': choose one of auto, fp32, fp16, bf16"):
        SadTalkerOptions(precision="int8")


def test_missing_files_are_a_reason_not_a_crash(tmp_path, files):
    gone = {"checkpoint": files["checkpoint"], "mapping": tmp_path / "mapping_00109-model.pth.tar"}
    status = SadTalkerRenderer(files=gone).available()
    assert not status.ok and "mapping_00109-model.pth.tar does not exist" in status.reason
    copy = tmp_path / "copy.safetensors"
    shutil.copy(files["mapping_109"], tmp_path / "mapping_00109-model.pth.tar")
    assert SadTalkerRenderer(files={**gone, "checkpoint": copy}).available().reason.endswith("does not exist")


def test_auto_takes_sadtalker_on_a_gpu_only_and_by_name_anywhere(files, data_dir):
    from core.settings import get_settings
    from models.backends import RENDERERS, forget_instances
    from models.device import cuda_available

    folder = get_settings().weights_dir / "sadtalker"
    folder.mkdir(parents=True)
    for key, name in (
        ("checkpoint", "SadTalker_V0.0.2_256.safetensors"),
        ("mapping_109", "mapping_00109-model.pth.tar"),
        ("mapping_229", "mapping_00229-model.pth.tar"),
    ):
        (folder / name).symlink_to(files[key])
    forget_instances()
    try:
        assert RENDERERS.choose("sadtalker").name == "sadtalker"
        auto = RENDERERS.choose("auto")
        if cuda_available():
            assert (auto.name, auto.resource) == ("sadtalker", "gpu")
        else:
            assert auto.name != "sadtalker"
            assert auto.tried[0].startswith("sadtalker: no CUDA device: ")
            assert auto.tried[0].endswith("(auto takes it on a GPU only; ask for sadtalker)")
    finally:
        forget_instances()
