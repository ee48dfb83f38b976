"""Re-voicing speed and memory at 720p and 1080p: `avatar generate --video` on a synthetic talking video.

    .venv/bin/python benchmarks/dub_speed.py [--seconds 10] [--heights 720 1080] [--long 30] [--backend warp]

The source video is the astronaut photo made to talk by our own renderer (512 px), scaled to the height and padded
to 16:9 with its own edge colours, looped to `--seconds`. The speech is espeak-ng, as long as the video. Each
measure is a fresh `avatar generate` process: frames/s of the video_generation node (following the face and
re-drawing every frame, decoding and encoding included) and of the whole command, and the child's peak RSS
(getrusage). `--long` repeats the first height with a longer video: memory must not grow with the length.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SENTENCE = "The quick brown fox jumps over the lazy dog, and then it naps in the warm afternoon sun. "
FPS = 25


def talking_frames(tmp: Path) -> list[np.ndarray]:
    from cli.demo_assets import demo_image
    from cli.generate import generate_video
    from models.media.video import read_frames

    out = tmp / "talking.mp4"
    generate_video(demo_image(REPO / "data" / "demo"), None, SENTENCE, out, {"size": 512, "backend": "warp"}, False)
    return list(read_frames(out))


def source_video(frames: list[np.ndarray], height: int, seconds: float, path: Path) -> Path:
    from models.media.video import VideoWriter

    width = height * 16 // 9
    with VideoWriter(path, fps=FPS, size=(width, height), crf=18) as writer:
        for i in range(int(seconds * FPS)):
            frame = cv2.resize(frames[i % len(frames)], (height, height), interpolation=cv2.INTER_CUBIC)
            pad = (width - height) // 2
            writer.write(cv2.copyMakeBorder(frame, 0, 0, pad, width - height - pad, cv2.BORDER_REPLICATE))
    return path


def speech(seconds: float, path: Path) -> Path:
    from models.audio.io import load_audio, write_wav
    from models.audio.tts import synthesize

    one = load_audio(synthesize(SENTENCE, path.with_suffix(".one.wav")), 16_000)
    write_wav(path, np.tile(one, int(np.ceil(seconds * 16_000 / len(one))))[: int(seconds * 16_000)])
    return path


def measure(video: Path, wav: Path, out: Path, backend: str, env: dict[str, str]) -> dict[str, float]:
    cmd = [sys.executable, "-m", "cli.main", "generate", "--video", str(video), "-a", str(wav), "-o", str(out),
           "--backend", backend, "--json"]  # fmt: skip
    code = (
        "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], check=True, capture_output=True, "
        "text=True); print(r.stdout); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", code, *cmd], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    text, rss = run.stdout.rsplit("\n", 2)[0], run.stdout.rsplit("\n", 2)[1]
    summary = json.loads(text[text.index("{") :])
    frames = summary["controls"]["frames"]
    render = summary["timings"]["video_generation"]
    return {
        "frames": frames,
        "video_generation_s": round(render, 1),
        "render_fps": round(frames / render, 2),
        "command_s": round(wall, 1),
        "command_fps": round(frames / wall, 2),
        "peak_rss_mb": round(int(rss) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--heights", type=int, nargs="+", default=[720, 1080])
    parser.add_argument("--long", type=float, default=0.0, help="also the first height at this length (memory)")
    parser.add_argument("--backend", default="warp")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = os.environ | {"AVATAR_DATA_DIR": str(tmp / "data")}
        frames = talking_frames(tmp)
        runs = [(h, args.seconds) for h in args.heights] + ([(args.heights[0], args.long)] if args.long else [])
        for height, seconds in runs:
            video = source_video(frames, height, seconds, tmp / f"src{height}_{seconds:g}.mp4")
            wav = speech(seconds, tmp / f"speech{seconds:g}.wav")
            results[f"{height}p {seconds:g}s"] = measure(video, wav, tmp / "out.mp4", args.backend, env)
    print(json.dumps({"backend": args.backend, "fps": FPS, "results": results}, indent=2))


if __name__ == "__main__":
    main()
