"""Latency of the live stream (/ws), on loopback only, beside the offline per-frame time.

    python benchmarks/stream_latency.py [--runs 3] [--size 256] [--fps 25] [--json]

A real `avatar serve` on a free port; the astronaut photo; an espeak-ng sentence after a 0.5 s silent lead-in,
sent in 20 ms chunks at real-time pace. Latency of a frame = when the client received it minus when the client
sent the audio at the frame's own time (the server's own figure, from arrival to send, is reported beside it).
The offline figure is `avatar generate` (in-process, warp renderer, no enhancer) on the same clip and photo:
its wall time per output frame, after one warm-up run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from websockets.sync.client import connect

from cli.bench import server

CHUNK_S = 0.02
LEAD_IN_S = 0.5
TEXT = "Hello! My name is Maria. I can talk to you live, with my lips in time with my voice."


def speech(tmp: Path) -> tuple[Path, np.ndarray]:
    from models.audio.io import decode_audio, write_wav
    from models.audio.tts import synthesize

    audio = decode_audio(synthesize(TEXT, tmp / "tts.wav"), 16_000)
    audio = np.concatenate([np.zeros(int(LEAD_IN_S * 16_000), np.float32), audio])
    write_wav(tmp / "speech.wav", audio, 16_000)
    return tmp / "speech.wav", audio


def offline_seconds_per_frame(image: Path, clip: Path, tmp: Path, size: int, fps: int) -> float:
    from cli.generate import generate_video

    options = {"size": size, "fps": fps, "backend": "warp", "enhancer": "none"}
    for i in range(2):  # the first run loads the models
        result = generate_video(image, clip, None, tmp / f"offline{i}.mp4", options, show_progress=False)
    return result["wall_seconds"] / max(1, round(result["duration"] * fps))


def stream_once(base: str, image_id: str, audio: np.ndarray, size: int, fps: int) -> tuple[list[float], dict]:
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    step = int(CHUNK_S * 16_000)
    sent_at: list[float] = []  # per chunk

    def send(ws) -> None:
        start = time.perf_counter()
        for i, offset in enumerate(range(0, len(pcm), 2 * step)):
            time.sleep(max(0.0, start + i * CHUNK_S - time.perf_counter()))
            sent_at.append(time.perf_counter())
            ws.send(pcm[offset : offset + 2 * step])
        ws.send(json.dumps({"type": "end"}))

    latencies = []
    with connect(base.replace("http://", "ws://") + "/ws", open_timeout=30, max_size=None) as ws:
        ws.send(json.dumps({"type": "start", "image_id": image_id, "fps": fps, "size": size, "sample_rate": 16_000}))
        assert json.loads(ws.recv(timeout=60))["type"] == "ready"
        sender = threading.Thread(target=send, args=(ws,))
        sender.start()
        while isinstance(message := ws.recv(timeout=30), bytes):
            received = time.perf_counter()
            _, stamp_ms = struct.unpack_from("<II", message)
            chunk = min(int(stamp_ms / 1000 / CHUNK_S), len(sent_at) - 1)
            latencies.append(received - sent_at[chunk])
        sender.join()
    return latencies, json.loads(message)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stream-bench-") as name:
        tmp = Path(name)
        os.environ["AVATAR_DATA_DIR"] = str(tmp / "data")
        from cli.demo_assets import demo_image

        image = demo_image()
        clip, audio = speech(tmp)
        per_frame = offline_seconds_per_frame(image, clip, tmp, args.size, args.fps)
        pooled, runs = [], []
        with server({"AVATAR_DATA_DIR": str(tmp / "served")}, tmp) as base:
            with image.open("rb") as f:
                image_id = httpx.post(f"{base}/api/v1/upload/image", files={"file": f}, timeout=60).json()["id"]
            for _ in range(args.runs):
                latencies, done = stream_once(base, image_id, audio, args.size, args.fps)
                pooled += latencies
                runs.append({"frames": done["frames"], "server_latency": done["latency"]})
    from core.settings import get_settings

    lookahead_ms = get_settings().stream_lookahead_ms
    ms = np.array(pooled) * 1000
    median, p95 = float(np.median(ms)), float(np.percentile(ms, 95))
    report = {
        "audio_seconds": round(len(audio) / 16_000, 2),
        "size": args.size,
        "fps": args.fps,
        "runs": runs,
        "client_latency_ms": {"median": round(median, 1), "p95": round(p95, 1), "max": round(float(ms.max()), 1)},
        "median_of_run_p95_ms": round(statistics.median(r["server_latency"]["p95_ms"] for r in runs), 1),
        "offline_ms_per_frame": round(per_frame * 1000, 2),
        "latency_over_offline_frame_time": {
            "median": round(median / (per_frame * 1000), 1),
            "p95": round(p95 / (per_frame * 1000), 1),
        },
        "work_over_offline_frame_time": round((median - lookahead_ms) / (per_frame * 1000), 1),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"audio {report['audio_seconds']} s at {args.fps} fps, {args.size} px, {args.runs} runs")
    print(f"stream latency (client): median {median:.0f} ms, p95 {p95:.0f} ms, max {ms.max():.0f} ms")
    for i, run in enumerate(runs):
        s = run["server_latency"]
        print(f"  run {i + 1}: {run['frames']} frames; server p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms")
    print(f"offline `avatar generate`: {per_frame * 1000:.1f} ms per frame (all nodes, encode and mux included)")
    ratio = report["latency_over_offline_frame_time"]
    print(f"latency / offline frame time: median {ratio['median']}x, p95 {ratio['p95']}x")
    print(
        f"latency beyond the {lookahead_ms} ms lookahead / offline frame time: "
        f"{report['work_over_offline_frame_time']}x"
    )


if __name__ == "__main__":
    sys.exit(main())
