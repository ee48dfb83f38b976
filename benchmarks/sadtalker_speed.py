"""SadTalker's face renderer on CUDA: frames/s at 256 px, fp32 vs fp16 autocast, per batch size, on full-size
random-weight networks in the official layout (speed only: the frames are noise).

    .venv/bin/python benchmarks/sadtalker_speed.py [--frames 200] [--batches 1,4,8,16,32] [--side 256] [--json]
    .venv/bin/python benchmarks/sadtalker_speed.py --device cpu --frames 2 --batches 2 --side 128   # smoke run

Without a CUDA device it prints why and exits 0 (no figure is invented); `--device cpu` runs the same code on the
CPU (bf16 in place of fp16), for checking the script, not for figures. Per precision and batch size: frames/s of
the animation loop (mapping, keypoints, generator; the photo's keypoints and feature volume once), the median of
--runs after one warm-up, and the peak GPU memory; also audio2exp + audio2pose frames/s, and how far fp16 frames
are from fp32 ones (mean absolute difference, 0-255 scale).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from models.device import cuda_status  # noqa: E402
from models.render.sadtalker.animate import Animator, Drive, coefficients  # noqa: E402
from models.render.sadtalker.loading import SadTalkerNets  # noqa: E402
from models.render.sadtalker.mapping import MappingNet  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from checkpoints import randomize_norms  # noqa: E402

HALF = {"cuda": torch.float16, "cpu": torch.bfloat16}  # the reduced precision each device's autocast runs
NAMES = {None: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: str, runs: int) -> float:
    """Median seconds of `runs` calls of fn() after one warm-up call (cuDNN autotune, allocator)."""
    fn()
    seconds = []
    for _ in range(runs):
        sync(device)
        started = time.perf_counter()
        fn()
        sync(device)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def source_image(side: int, device: str) -> torch.Tensor:
    import cv2

    face = cv2.resize(data.astronaut()[:256, 128:384], (side, side), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(face).permute(2, 0, 1)[None].float().div(255).to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--batches", default="1,4,8,16,32")
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    device = args.device
    if device == "cuda":
        status = cuda_status()
        if not status.ok:
            print(f"sadtalker_speed: skipped, {status.reason}. Figures need a CUDA device (--device cpu: a smoke run)")
            return
    batches = [int(b) for b in args.batches.split(",")]
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    nets = randomize_norms(SadTalkerNets()).to(device).eval()
    mapping = MappingNet(70).to(device).eval()
    photo = rng.normal(size=73).astype(np.float32)
    coeffs = rng.normal(size=(args.frames, 70)).astype(np.float32)
    animator = Animator(nets, mapping, source_image(args.side, device), photo)
    half = HALF[device]

    def loop(batch: int, dtype: torch.dtype | None) -> None:
        for _ in animator.render(coeffs, batch, dtype=dtype):
            pass

    rows = []
    for dtype in (None, half):
        for batch in batches:
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            seconds = timed(lambda b=batch, d=dtype: loop(b, d), device, args.runs)
            peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
            rows.append({"precision": NAMES[dtype], "batch": batch, "frames_per_s": round(args.frames / seconds, 1)})
            rows[-1]["peak_gib"] = round(peak, 2) if peak is not None else None

    check = coeffs[: max(batches)]
    full = torch.cat(list(animator.render(check, len(check))))
    reduced = torch.cat(list(animator.render(check, len(check), dtype=half)))
    difference = float((reduced - full).abs().mean()) * 255

    mels = torch.randn(args.frames, 1, 80, 16, device=device)
    blink = np.zeros(args.frames, np.float32)
    audio_seconds = timed(lambda: coefficients(nets, mels, photo, Drive(blink)), device, args.runs)

    result = {
        "device": torch.cuda.get_device_name() if device == "cuda" else f"cpu, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "side": args.side,
        "frames": args.frames,
        "animation": rows,
        "reduced_vs_fp32_mean_abs_255": round(difference, 3),
        "audio_to_coefficients_frames_per_s": round(args.frames / audio_seconds, 1),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"SadTalker {args.side} px on {result['device']} (torch {result['torch']}), {args.frames} frames, "
          f"median of {args.runs}")  # fmt: skip
    for row in rows:
        memory = f"   peak {row['peak_gib']:.2f} GiB" if row["peak_gib"] is not None else ""
        print(f"  {row['precision']:5s} batch {row['batch']:3d}: {row['frames_per_s']:8.1f} frames/s{memory}")
    print(f"  {NAMES[half]} vs fp32: mean |difference| {difference:.3f} / 255")
    print(f"  audio2exp + audio2pose: {result['audio_to_coefficients_frames_per_s']:.1f} frames/s")


if __name__ == "__main__":
    main()
