"""Peak memory of `avatar generate` against the length of the speech: frames stream to the encoder, so it stays flat.

    .venv/bin/python benchmarks/memory_vs_length.py [--seconds 10 60] [--size 512] [--runs 3]

Each run is a fresh process (peak RSS from getrusage of the child); figures are medians, and ratios against the
shortest clip measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SENTENCE = "The quick brown fox jumps over the lazy dog, and then it naps in the warm afternoon sun. "


def speech(seconds: float, path: Path) -> Path:
    from models.audio.io import load_audio, write_wav
    from models.audio.tts import synthesize

    one = load_audio(synthesize(SENTENCE, path.with_suffix(".one.wav")), 16_000)
    reps = int(np.ceil(seconds * 16_000 / len(one)))
    write_wav(path, np.tile(one, reps)[: int(seconds * 16_000)])
    return path


def peak_rss_mb(cmd: list[str], env: dict[str, str]) -> float:
    """Peak resident memory of one child process, in MB."""
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code, *cmd], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from cli.demo_assets import demo_image

    image = demo_image(REPO / "data" / "demo")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {"AVATAR_DATA_DIR": str(Path(tmp) / "data")}
        for seconds in args.seconds:
            wav = speech(seconds, Path(tmp) / f"s{seconds:g}.wav")
            cmd = [
                sys.executable,
                "-m",
                "cli.main",
                "generate",
                "-i",
                str(image),
                "-a",
                str(wav),
                "-o",
                str(Path(tmp) / "out.mp4"),
                "--size",
                str(args.size),
                "--backend",
                "warp",
            ]
            results[seconds] = statistics.median(peak_rss_mb(cmd, env) for _ in range(args.runs))
    base = results[args.seconds[0]]
    report = {f"{s:g}s": {"peak_rss_mb": round(mb, 1), "ratio": round(mb / base, 2)} for s, mb in results.items()}
    print(json.dumps({"size": args.size, "runs": args.runs, "peak_memory": report}, indent=2))


if __name__ == "__main__":
    main()
