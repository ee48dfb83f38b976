"""GFPGAN: real GFPGANv1Clean code on small random-weight checkpoints (official layout); FFHQ alignment."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from test_wav2lip_face import astronaut_face

from core.errors import BackendUnavailable
from models.backends import ENHANCERS, Choice, forget_instances
from models.device import cuda_available
from models.enhance.face_align import FFHQ_TEMPLATE_512, align, five_points, paste_back
from models.enhance.gfpgan import GFPGANEnhancer
from models.enhance.gfpgan_arch import GFPGANConfig, GFPGANv1Clean, load_gfpgan

SMALL = GFPGANConfig(out_size=64, num_style_feat=32, channel_multiplier=1, narrow=1 / 16)


def save_checkpoint(path: Path, config: GFPGANConfig) -> Path:
    torch.manual_seed(0)
    state = GFPGANv1Clean(config).state_dict()
    # the released files also hold the training-only heads; loading must drop them
    state["toRGB.0.weight"] = torch.zeros(3, 16, 1, 1)
    state["stylegan_decoder.style_mlp.1.weight"] = torch.zeros(config.num_style_feat, config.num_style_feat)
    torch.save({"params_ema": state}, path)
    return path


def beyond_crop(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The pixels of `image` the aligned size x size crop does not cover (at least a tenth of them here)."""
    h, w = image.shape[:2]
    covered = cv2.warpAffine(np.ones((size, size), np.float32), cv2.invertAffineTransform(matrix), (w, h))
    assert (covered == 0).mean() > 0.1
    return covered == 0


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("gfpgan") / "GFPGANv1.4.pth", SMALL)


def test_full_size_network_matches_the_released_v14_file():
    state = GFPGANv1Clean().state_dict()
    numel = sum(v.numel() for v in state.values())
    # + the 8-layer style MLP and the U-Net toRGB heads the file also stores = 348,632,874 bytes on disk
    assert numel + 8 * (512 * 512 + 512) + 3 * (256 + 256 + 256 + 256 + 128 + 64 + 32) + 7 * 3 == 87_143_276


def test_alignment_puts_the_eyes_and_mouth_on_the_ffhq_template():
    face = astronaut_face()
    crop, matrix = align(face.image, face.landmarks, 512)
    assert crop.shape == (512, 512, 3)
    mapped = cv2.transform(five_points(face.landmarks)[None], matrix)[0]
    assert np.abs(mapped - FFHQ_TEMPLATE_512).max() < 20
    restored = paste_back(face.image, crop, matrix)
    x1, y1, x2, y2 = face.box.astype(int)
    inner = (slice(y1 + 10, y2 - 10), slice(x1 + 10, x2 - 10))
    # warping there and back is close to lossless (the crop is larger than the face here)
    assert np.abs(restored[inner].astype(int) - face.image[inner]).mean() < 6
    outside = beyond_crop(face.image, matrix, 512)
    assert np.array_equal(restored[outside], face.image[outside])


def test_enhance_restores_the_face_and_leaves_the_rest(small_checkpoint: Path):
    face = astronaut_face()
    enhancer = GFPGANEnhancer(small_checkpoint, SMALL)
    out = enhancer.enhance(face.image, face.landmarks)
    assert out.shape == face.image.shape and out.dtype == np.uint8
    x1, y1, x2, y2 = face.box.astype(int)
    assert np.abs(out[y1:y2, x1:x2].astype(int) - face.image[y1:y2, x1:x2]).mean() > 5
    outside = beyond_crop(face.image, align(face.image, face.landmarks, SMALL.out_size)[1], SMALL.out_size)
    assert np.array_equal(out[outside], face.image[outside])
    # the same frame twice gives the same result (fixed noise: no flicker between video frames)
    assert np.array_equal(enhancer.enhance(face.image, face.landmarks), out)


def test_enhance_without_landmarks_takes_the_frame_as_an_aligned_face(small_checkpoint: Path):
    frame = np.full((100, 80, 3), 128, np.uint8)
    out = GFPGANEnhancer(small_checkpoint, SMALL).enhance(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8


def test_wrong_checkpoint_layouts_are_refused_clearly(tmp_path: Path, small_checkpoint: Path):
    torch.save({"state_dict": {}}, tmp_path / "other.pth")
    with pytest.raises(BackendUnavailable, match="official layout"):
        load_gfpgan(tmp_path / "other.pth", "cpu", SMALL)
    wider = save_checkpoint(tmp_path / "wider.pth", GFPGANConfig(out_size=64, num_style_feat=32, narrow=1 / 8))
    with pytest.raises(BackendUnavailable, match="does not match GFPGANv1Clean.*with other shapes"):
        load_gfpgan(wider, "cpu", SMALL)


def test_selection_reasons(weights_dir: Path, small_checkpoint: Path):
    forget_instances()
    assert ENHANCERS.choose("none") == Choice("none", "cpu", "none (asked for)", [])
    missing = ENHANCERS.choose("gfpgan")
    assert missing.name == "none" and "GFPGANv1.4.pth" in missing.reason
    assert "avatar models download gfpgan" in missing.reason
    weights_dir.mkdir()
    (weights_dir / "GFPGANv1.4.pth").symlink_to(small_checkpoint)
    asked = ENHANCERS.choose("gfpgan")
    assert (asked.name, asked.resource) == ("gfpgan", "gpu")
    assert ENHANCERS.get("gfpgan").available().ok
    auto = ENHANCERS.choose("auto")
    assert (auto.name == "gfpgan") == cuda_available()
    if not cuda_available():
        assert "no CUDA device" in auto.reason
    with pytest.raises(ValueError, match="unknown enhancer"):
        ENHANCERS.choose("codeformer")
    forget_instances()


def test_a_video_is_enhanced_at_its_own_rate_and_frame_size(tmp_path: Path, small_checkpoint: Path, monkeypatch):
    """enhance_video on a dubbed video's kind of output: NTSC rate, not square. It once handed probe's float
    fps and the width alone to the writer, so every GFPGAN job failed ('float' object has no attribute
    'numerator') and was silently left unenhanced."""
    from fractions import Fraction

    from models.enhance import video as enhance
    from models.media.video import VideoWriter, frame_rate, probe, read_frames

    src, dst = tmp_path / "rendered.mp4", tmp_path / "enhanced.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(src, fps=Fraction(30000, 1001), size=(96, 64)) as sink:
        for _ in range(3):
            sink.write(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    monkeypatch.setattr(enhance.ENHANCERS, "get", lambda name: GFPGANEnhancer(small_checkpoint, SMALL))
    report = enhance.enhance_video(Choice("gfpgan", "gpu", "gfpgan (asked for)"), src, dst)
    assert (report.enhancer, report.output, report.warnings) == ("gfpgan", dst, [])
    info = probe(dst)
    assert (info["width"], info["height"], info["frames"]) == (96, 64, 3)
    assert frame_rate(dst) == Fraction(30000, 1001)
    assert all(frame.shape == (64, 96, 3) for frame in read_frames(dst))
