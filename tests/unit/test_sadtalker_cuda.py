"""SadTalker on CUDA: the fp16 animation loop agrees with fp32, and its speed at 256 px (printed with -s, for
docs/benchmarks.md). Full-size random-weight networks. Skipped without CUDA."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from checkpoints import randomize_norms

from models.render.sadtalker.animate import Animator
from models.render.sadtalker.loading import SadTalkerNets
from models.render.sadtalker.mapping import MappingNet

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_fp16_frames_match_fp32_and_their_speed(astronaut):
    torch.manual_seed(0)
    nets = randomize_norms(SadTalkerNets()).cuda().eval()
    mapping = MappingNet(70).cuda().eval()
    source = torch.from_numpy(astronaut[:256, 128:384]).permute(2, 0, 1)[None].float().div(255).cuda()
    photo = np.random.default_rng(0).normal(size=73).astype(np.float32)
    coeffs = np.random.default_rng(1).normal(size=(64, 70)).astype(np.float32)
    animator = Animator(nets, mapping, source, photo)

    full = torch.cat(list(animator.render(coeffs[:16], batch_size=16)))
    half = torch.cat(list(animator.render(coeffs[:16], batch_size=16, dtype=torch.float16)))
    assert half.shape == full.shape == (16, 3, 256, 256) and torch.isfinite(half).all()
    assert float((half - full).abs().mean()) * 255 < 2.0

    for batch in (8, 16, 32):
        list(animator.render(coeffs[:batch], batch_size=batch, dtype=torch.float16))  # warm-up
        runs = []
        for _ in range(3):
            torch.cuda.synchronize()
            started = time.perf_counter()
            list(animator.render(coeffs, batch_size=batch, dtype=torch.float16))
            torch.cuda.synchronize()
            runs.append(len(coeffs) / (time.perf_counter() - started))
        print(f"sadtalker 256 px fp16, batch {batch}: {np.median(runs):.1f} frames/s (median of 3)")
