"""Latency of the live stream (/ws), on loopback only, beside the offline per-frame time.

    python benchmarks/stream_latency.py [--runs 3] [--size 256] [--fps 25] [--json]

A real `avatar serve` on a free port; the astronaut photo; an espeak-ng sentence after a 0.5 s silent lead-in,
sent in 20 ms chunks at real-time pace. Latency of a frame = when the client received it minus when the client
sent the audio at the frame's own time (the server's own figure, from arrival to send, is reported beside it);
the first frame's latency is counted from the first audio chunk.
Capacity: the engine alone in this process on one core (one OpenCV and one BLAS thread), all audio given at
once, frames drawn and JPEG-encoded as fast as they can be: frames per second it could sustain.
Lookahead: for each candidate lookahead, the live mouth against the offline controller on three voices (one an
accent the classifier never heard): correlation of the jaw opening and the share of p/b/m where the lips close.
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

from cli.local_servers import server
from models.audio.io import decode_audio, resample, write_wav

CHUNK_S = 0.02
LEAD_IN_S = 0.5
TEXT = "Hello! My name is Maria. I can talk to you live, with my lips in time with my voice."
LOOKAHEADS_MS = (200, 150, 100, 80, 60)
VOICES = (
    ("Bob bought a big map for my mum.", "en-us+m3"),
    ("Please pass the bread and the butter, Mike.", "en-gb-x-rp+f2"),
    ("Maybe we should meet by the pier.", "en-029+m2"),
)


def speech(tmp: Path) -> tuple[Path, np.ndarray]:
    from models.audio.tts import synthesize

    audio = decode_audio(synthesize(TEXT, tmp / "tts.wav"), 16_000)
    audio = np.concatenate([np.zeros(int(LEAD_IN_S * 16_000), np.float32), audio])
    write_wav(tmp / "speech.wav", audio, 16_000)
    return tmp / "speech.wav", audio


def offline_seconds_per_frame(image: Path, clip: Path, tmp: Path, size: int, fps: int) -> float:
    from cli.generate import generate_video
    from pipeline.options import JobOptions

    options = JobOptions(size=size, fps=fps, backend="warp", enhancer="none")
    for i in range(2):  # the first run loads the models
        result = generate_video(image, clip, None, tmp / f"offline{i}.mp4", options, show_progress=False)
    return result["wall_seconds"] / max(1, round(result["duration"] * fps))


def capacity_fps(image: Path, audio: np.ndarray, size: int, fps: int, quality: int) -> float:
    """Frames per second the engine draws and JPEG-encodes on one core, all audio given at once."""
    import cv2

    from models.face.load import load_face
    from models.stream.engine import StreamEngine

    face = load_face(image, size, None)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with StreamEngine(face, fps) as engine:
            engine.feed((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
            engine.end()
            start, frames = time.perf_counter(), 0
            while engine.ready():
                cv2.imencode(".jpg", engine.next_frame().rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
                frames += 1
            return frames / (time.perf_counter() - start)
    finally:
        cv2.setNumThreads(threads)


def lookahead_quality(image: Path, fps: int) -> dict[int, dict[str, float]]:
    """Per lookahead (ms): the live jaw opening's correlation with the offline controller's, and the share of
    p/b/m (espeak-ng's own phoneme times) during which the live lips close."""
    from models.audio.analysis import analyze_speech
    from models.audio.tts import speak
    from models.control.rules import build_controls
    from models.face.load import load_face
    from models.stream.engine import StreamEngine

    face = load_face(image, 128, None)
    clips = []
    for text, voice in VOICES:
        spoken = speak(text, voice)
        lead_in = np.zeros(int(LEAD_IN_S * 16_000), np.float32)
        clips.append((np.concatenate([lead_in, resample(spoken.audio / 32768, spoken.sample_rate)]), spoken))
    report = {}
    for ms in LOOKAHEADS_MS:
        corr, closed = [], []
        for audio, spoken in clips:
            with tempfile.TemporaryDirectory() as tmp:
                write_wav(Path(tmp) / "s.wav", audio, 16_000)
                offline = analyze_speech(Path(tmp) / "s.wav")
            controls = build_controls(offline.curves, "neutral", offline.duration, fps)
            with StreamEngine(face, fps, lookahead=ms / 1000) as engine:
                engine.feed((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
                engine.end()
                live = [engine.next_frame().controls for _ in range(engine.total_frames)]
            jaw = np.array([c["jaw_open"] for c in live])
            corr.append(np.corrcoef(jaw, controls.channels["jaw_open"][: len(jaw)])[0, 1])
            press = np.array([c["lip_press"] for c in live])
            for label, start, end in spoken.arpabet_segments():
                if label in ("P", "B", "M"):
                    span = press[int((start + LEAD_IN_S) * fps) : int((end + LEAD_IN_S) * fps) + 2]
                    closed.append(span.size > 0 and span.max() > 0.5)
        report[ms] = {"jaw_correlation": round(float(np.mean(corr)), 3), "pbm_closed": round(float(np.mean(closed)), 3)}
    return report


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
        capacity = capacity_fps(image, audio, args.size, args.fps, 80)
        quality = lookahead_quality(image, args.fps)
        pooled, runs, first = [], [], []
        with server({"AVATAR_DATA_DIR": str(tmp / "served")}, tmp) as (base, _):
            with image.open("rb") as f:
                image_id = httpx.post(f"{base}/api/v1/upload/image", files={"file": f}, timeout=60).json()["id"]
            for _ in range(args.runs):
                latencies, done = stream_once(base, image_id, audio, args.size, args.fps)
                pooled += latencies
                first.append(latencies[0])
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
        "first_frame_ms": round(statistics.median(first) * 1000, 1),
        "median_of_run_p95_ms": round(statistics.median(r["server_latency"]["p95_ms"] for r in runs), 1),
        "lookahead_ms": lookahead_ms,
        "one_core_capacity_fps": round(capacity, 1),
        "mouth_by_lookahead_ms": quality,
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
    print(f"lookahead {lookahead_ms} ms; first frame {report['first_frame_ms']:.0f} ms after the first audio chunk")
    print(f"stream latency (client): median {median:.0f} ms, p95 {p95:.0f} ms, max {ms.max():.0f} ms")
    print(f"one core draws and encodes {capacity:.1f} frames/s at {args.size} px (the stream needs {args.fps})")
    for ms_ahead, q in quality.items():
        print(f"  lookahead {ms_ahead} ms: live/offline jaw r {q['jaw_correlation']}, p/b/m closed {q['pbm_closed']}")
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
