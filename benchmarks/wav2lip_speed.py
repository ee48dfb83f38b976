"""Wav2Lip throughput, CPU vs CUDA, on random weights in the official layout (speed only: output is noise).

    .venv/bin/python benchmarks/wav2lip_speed.py [--frames 250] [--batch 32] [--json]

Prints frames/s for the network alone and for the whole renderer (mel, crop, network, paste) per device.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.io import wavfile
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.settings import get_settings  # noqa: E402
from models.render.wav2lip import Wav2LipRenderer  # noqa: E402
from models.render.wav2lip_net import load_wav2lip  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from checkpoints import random_wav2lip_checkpoint  # noqa: E402

from models.types import ControlTrack  # noqa: E402


class NullSink:
    def write(self, frame_rgb: np.ndarray) -> None:
        pass


class Face:
    """The astronaut photo with a fixed landmark layout (speed does not depend on their exact positions)."""

    def __init__(self) -> None:
        self.image = data.astronaut()
        jaw = np.stack([175 + 90 * np.arange(17) / 16, 110 + 60 * np.sin(np.pi * np.arange(17) / 16)], axis=1)
        rest = np.stack([np.linspace(185, 255, 51), np.linspace(100, 165, 51)], axis=1)
        self.landmarks = np.concatenate([jaw, rest]).astype(np.float32)
        self.box = (175, 76, 265, 166)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def network_fps(checkpoint: Path, device: str, frames: int, batch: int) -> float:
    model = load_wav2lip(checkpoint, device)
    mels, faces = torch.randn(batch, 1, 80, 16, device=device), torch.rand(batch, 6, 96, 96, device=device)
    with torch.inference_mode():
        model(mels, faces)  # warm-up (cuDNN autotune, allocator)
        sync(device)
        started = time.perf_counter()
        for _ in range(max(1, frames // batch)):
            model(mels, faces)
        sync(device)
    return max(1, frames // batch) * batch / (time.perf_counter() - started)


def renderer_fps(checkpoint: Path, wav: Path, device: str, frames: int, batch: int) -> float:
    os.environ["AVATAR_DEVICE"] = device
    get_settings.cache_clear()
    renderer = Wav2LipRenderer(checkpoint, batch_size=batch)
    controls = ControlTrack(fps=25, channels={"jaw_open": np.zeros(frames, np.float32)})
    renderer.render(Face(), ControlTrack(fps=25, channels={"jaw_open": np.zeros(batch, np.float32)}), wav, NullSink())
    started = time.perf_counter()
    renderer.render(Face(), controls, wav, NullSink())
    return frames / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = random_wav2lip_checkpoint(Path(tmp) / "wav2lip_gan.pth")
        wav = Path(tmp) / "speech.wav"
        t = np.arange(int(args.frames / 25 * 16_000)) / 16_000
        wavfile.write(wav, 16_000, (6000 * np.sin(2 * np.pi * 180 * t) * np.sin(2 * np.pi * 3 * t)).astype(np.int16))
        results = {
            device: {
                "network_fps": round(network_fps(checkpoint, device, args.frames, args.batch), 1),
                "renderer_fps": round(renderer_fps(checkpoint, wav, device, args.frames, args.batch), 1),
                "device_name": torch.cuda.get_device_name()
                if device == "cuda"
                else f"{torch.get_num_threads()} threads",
            }
            for device in devices
        }
    if args.json:
        print(json.dumps({"frames": args.frames, "batch": args.batch, "results": results}))
    else:
        for device, r in results.items():
            print(
                f"{device:5s} network {r['network_fps']:8.1f} frames/s   "
                f"renderer {r['renderer_fps']:8.1f} frames/s   ({r['device_name']})"
            )


if __name__ == "__main__":
    main()
