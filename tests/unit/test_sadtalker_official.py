"""Each SadTalker sub-network equals the official module on the same weights and inputs.

The official code is not part of this repository: the tests import it from a snapshot of OpenTalker/SadTalker
(MIT) when one is on this machine (SADTALKER_SRC: a checkout, or the default mirror below) and skip otherwise.
Weights are random, with non-trivial batch-norm statistics; full-size architectures, small inputs (128 px
instead of 256: the CPU here has two cores). The largest differences measured are in docs/sadtalker.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from checkpoints import randomize_norms

from models.render.sadtalker import animate, audio, face3d, mapping
from models.render.sadtalker.audio2exp import Audio2Exp
from models.render.sadtalker.audio2pose import Audio2Pose
from models.render.sadtalker.generator import OcclusionAwareSPADEGenerator
from models.render.sadtalker.keypoints import KeypointDetector
from models.render.sadtalker.loading import SadTalkerNets

MIRROR = Path("/work/.mirror/OpenTalker+SadTalker/repo")
TOL = 1e-4


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = Path(os.environ.get("SADTALKER_SRC", ""))
    if not (root / "src").is_dir():
        if not MIRROR.is_dir():
            pytest.skip("no OpenTalker/SadTalker snapshot on this machine (set SADTALKER_SRC to a checkout)")
        root = tmp_path_factory.mktemp("sadtalker-official")
        archive = subprocess.run(["git", "-C", str(MIRROR), "archive", "HEAD", "src"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    # networks.py imports kornia for a training-only crop; nothing here calls it
    kornia, geometry = types.ModuleType("kornia"), types.ModuleType("kornia.geometry")
    geometry.warp_affine, kornia.geometry = None, geometry
    sys.modules.setdefault("kornia", kornia)
    sys.modules.setdefault("kornia.geometry", geometry)
    if not hasattr(np, "VisibleDeprecationWarning"):  # preprocess.py filters a warning NumPy 2 moved
        np.VisibleDeprecationWarning = np.exceptions.VisibleDeprecationWarning
    sys.path.insert(0, str(root))
    import yaml
    from src.audio2exp_models.networks import SimpleWrapperV2
    from src.audio2pose_models.audio2pose import Audio2Pose as OfficialAudio2Pose
    from src.face3d.models import networks
    from src.face3d.util import preprocess
    from src.facerender.modules import make_animation
    from src.facerender.modules.generator import OcclusionAwareSPADEGenerator as OfficialGenerator
    from src.facerender.modules.keypoint_detector import KPDetector
    from src.facerender.modules.mapping import MappingNet
    from src.utils import audio as official_audio

    config = yaml.safe_load((root / "src/config/facerender.yaml").read_text())["model_params"]

    def pose_config() -> SimpleNamespace:  # fresh each time: the official encoder grows its layer list in place
        return SimpleNamespace(
            MODEL=SimpleNamespace(
                CVAE=SimpleNamespace(
                    SEQ_LEN=32,
                    LATENT_SIZE=64,
                    AUDIO_EMB_IN_SIZE=512,
                    AUDIO_EMB_OUT_SIZE=6,
                    ENCODER_LAYER_SIZES=[192, 128],
                    DECODER_LAYER_SIZES=[128, 192],
                ),
                DISCRIMINATOR=SimpleNamespace(LEAKY_RELU=False, INPUT_CHANNELS=6),
            ),
            DATASET=SimpleNamespace(NUM_CLASSES=46),
        )

    return SimpleNamespace(
        kp_detector=lambda: KPDetector(**config["kp_detector_params"], **config["common_params"]),
        generator=lambda: OfficialGenerator(**config["generator_params"], **config["common_params"]),
        mapping=lambda nc: MappingNet(nc, 1024, 3, 15, 66),
        audio2exp=SimpleWrapperV2,
        audio2pose=lambda: OfficialAudio2Pose(pose_config(), None, device="cpu"),
        recon=lambda: networks.define_net_recon(net_recon="resnet50", use_last_fc=False, init_path=""),
        animation=make_animation,
        preprocess=preprocess,
        audio=official_audio,
    )


def pair(official_module: torch.nn.Module, ours: torch.nn.Module, seed: int = 0):
    """The official module with random weights, and ours loaded strictly from its state dict."""
    torch.manual_seed(seed)
    theirs = randomize_norms(official_module, seed).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return theirs, ours.eval()


def gap(a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest absolute difference (printed: `pytest -s` lists the figures quoted in docs/sadtalker.md)."""
    value = float((a - b).abs().max())
    print(f"max abs diff {value:.2e}")
    return value


@torch.inference_mode()
def test_keypoint_detector(official):
    theirs, ours = pair(official.kp_detector(), KeypointDetector())
    image = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    expected = theirs(image)["value"]
    assert expected.std() > 0.01  # keypoints that differ, not a collapsed softmax
    assert gap(ours(image), expected) < TOL


@torch.inference_mode()
@pytest.mark.parametrize("coeff_nc", [70, 73])
def test_mapping_and_keypoint_transformation(official, coeff_nc):
    theirs, ours = pair(official.mapping(coeff_nc), mapping.MappingNet(coeff_nc))
    coeffs = torch.randn(3, coeff_nc, mapping.WINDOW, generator=torch.Generator().manual_seed(2))
    expected, got = theirs(coeffs), ours(coeffs)
    for key in ("yaw", "pitch", "roll", "t", "exp"):
        assert gap(got[key], expected[key]) < TOL, key

    canonical = torch.rand(3, 15, 3) * 2 - 1
    transform = official.animation.keypoint_transformation
    reference = transform({"value": canonical}, {k: v.clone() for k, v in expected.items()})["value"]
    assert gap(mapping.transform_keypoints(canonical, got), reference) < TOL
    angles = torch.tensor([[10.0, -5.0, 3.0], [0.0, 0.0, 0.0], [-20.0, 8.0, -2.0]])
    chosen = {k: v.clone() for k, v in expected.items()} | {
        "yaw_in": angles[:, 0],
        "pitch_in": angles[:, 1],
        "roll_in": angles[:, 2],
    }
    reference = transform({"value": canonical}, chosen)["value"]
    assert gap(mapping.transform_keypoints(canonical, got, angles), reference) < TOL


@torch.inference_mode()
def test_generator(official):
    theirs, ours = pair(official.generator(), OcclusionAwareSPADEGenerator())
    g = torch.Generator().manual_seed(3)
    image = torch.rand(1, 3, 128, 128, generator=g)
    kp_source = torch.rand(1, 15, 3, generator=g) - 0.5
    kp_driving = kp_source + 0.05 * torch.randn(1, 15, 3, generator=g)
    expected = theirs(image, kp_driving={"value": kp_driving}, kp_source={"value": kp_source})["prediction"]
    got = ours(ours.source_volume(image), kp_driving, kp_source)
    assert got.shape == (1, 3, 128, 128)
    assert expected.std() > 1e-3
    assert gap(got, expected) < TOL


@torch.inference_mode()
def test_audio2exp(official):
    theirs, ours = pair(official.audio2exp(), Audio2Exp())
    g = torch.Generator().manual_seed(4)
    mels = torch.rand(10, 1, 80, 16, generator=g) * 8 - 4
    ref = torch.randn(1, 10, 64, generator=g)
    blink = torch.rand(1, 10, generator=g)
    expected = theirs(mels, ref, blink)[0]
    assert gap(ours(mels, ref[0], blink[0]), expected) < TOL


@torch.inference_mode()
@pytest.mark.parametrize("n_frames", [10, 33, 71])  # shorter than one 32-frame chunk; exactly one; two and a rest
def test_audio2pose(official, n_frames):
    theirs, ours = pair(official.audio2pose(), Audio2Pose())
    g = torch.Generator().manual_seed(5)
    mels = torch.rand(n_frames, 1, 80, 16, generator=g) * 8 - 4
    ref = torch.randn(1, 1, 70, generator=g)
    torch.manual_seed(7)
    batch = {"ref": ref, "class": torch.LongTensor([3]), "indiv_mels": mels[None], "num_frames": n_frames}
    expected = theirs.test(batch)["pose_pred"][0]
    got = ours(mels, ref[0, 0, 64:], 3, torch.Generator().manual_seed(7))
    assert got.shape == (n_frames, 6)
    assert gap(got, expected) < TOL


@torch.inference_mode()
def test_face_recon(official):
    theirs, ours = pair(official.recon(), face3d.FaceRecon())
    for layer in theirs.final_layers:  # the official init zeroes the heads
        torch.nn.init.normal_(layer.weight, std=0.02)
    ours.load_state_dict(theirs.state_dict())
    image = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(6))
    expected = theirs(image)
    assert expected.shape == (2, 257)
    assert gap(ours(image), expected) < TOL


def test_alignment_on_our_landmarks(official, astronaut_face):
    from PIL import Image

    from models.render.sadtalker.crop import face_crop

    crop = face_crop(astronaut_face.landmarks, astronaut_face.image.shape)
    image = crop.cut(astronaut_face.image, 256)
    landmarks = crop.landmarks_in(astronaut_face.landmarks, 256).astype(np.float32)
    flipped = landmarks.copy()
    flipped[:, 1] = 255 - flipped[:, 1]
    # align_img's own steps; its t is (2, 1), which NumPy 2 no longer turns into floats: flattened here
    pre = official.preprocess
    t, s = pre.POS(pre.extract_5p(flipped).transpose(), face3d.STANDARD_5P.transpose())
    t, s = t.ravel(), 102.0 / s
    expected, _, _ = pre.resize_n_crop_img(Image.fromarray(image), flipped, t, s, target_size=224.0)
    face, params = face3d.align_face(image, landmarks)
    np.testing.assert_allclose(params[2:], [s, t[0], t[1]], rtol=1e-5)
    assert np.array_equal(face, np.asarray(expected))


def test_mel_windows(official, tmp_path):
    from scipy.io import savemat

    from models.audio.io import write_wav

    t = np.arange(int(16_000 * 1.37)) / 16_000
    wav_path = tmp_path / "voice.wav"
    write_wav(wav_path, (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32))
    savemat(tmp_path / "photo.mat", {"coeff_3dmm": np.zeros((1, 73), np.float32)})
    sys.modules.setdefault("src.utils.audio", official.audio)
    from src.generate_batch import get_data

    expected = get_data(str(tmp_path / "photo.mat"), str(wav_path), "cpu", None)["indiv_mels"][0].numpy()
    import librosa

    wav, _ = librosa.load(wav_path, sr=16_000)
    got = audio.frame_mels(wav, 25, expected.shape[0])
    assert got.shape == expected.shape == (34, 1, 80, 16)
    assert np.abs(got - expected).max() < 1e-4


@torch.inference_mode()
def test_animation_loop(official):
    """Our batched loop (photo keypoints once, frames two at a time, head turned by offsets from the photo's
    pose) against the official per-frame one given the same angles."""
    torch.manual_seed(0)
    nets = SadTalkerNets()
    kp, nets.kp_extractor = pair(official.kp_detector(), KeypointDetector(), 1)
    their_generator, nets.generator = pair(official.generator(), OcclusionAwareSPADEGenerator(), 2)
    their_mapping, our_mapping = pair(official.mapping(70), mapping.MappingNet(70), 3)
    g = torch.Generator().manual_seed(8)
    source = torch.rand(1, 3, 128, 128, generator=g)
    photo = np.random.default_rng(0).normal(size=73).astype(np.float32)
    coeffs = np.random.default_rng(1).normal(size=(3, 70)).astype(np.float32)
    offsets = np.array([[0, 0, 0], [5, -3, 1], [12, 4, -6]], np.float32)

    animator = animate.Animator(nets, our_mapping, source, photo)
    got = torch.cat(list(animator.render(coeffs, batch_size=2, head_offsets=offsets)))

    source_windows = torch.from_numpy(np.repeat(photo[None, :70, None], 27, axis=2))
    targets = torch.from_numpy(animate.windows(coeffs, 0, 3))[None]
    degrees = animator.source_angles[0] + torch.from_numpy(offsets)
    angles = {f"{k}_c_seq": degrees[None, :, i] for i, k in enumerate(("yaw", "pitch", "roll"))}
    expected = official.animation.make_animation(
        source, source_windows, targets, their_generator, kp, None, their_mapping, **angles
    )[0]
    assert got.shape == expected.shape == (3, 3, 128, 128)
    # batches of two run other conv kernels than the official batches of one: float rounding, amplified by
    # twenty-odd random-weight layers
    assert gap(got, expected) < 10 * TOL
