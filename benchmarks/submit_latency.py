"""Submit latency and queue overhead of the job API, on loopback only.

    python benchmarks/submit_latency.py [--clients 100] [--per-client 5] [--broker memory://]
                                        [--database URL] [--overhead-jobs 3]

Phase 1 starts an API server whose jobs go to a broker nobody consumes (memory:// by default, or a Redis URL
to include the real enqueue), then `--clients` concurrent clients each submit `--per-client` jobs: a bounded
loop. It reports p50/p99/max submit latency and throughput.
Phase 2 starts an embedded server (in-process worker) and runs `--overhead-jobs` short jobs one after another:
queue overhead per job = wall time from submit to finished minus the time the pipeline nodes themselves took.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AVATAR_")} | env
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--timeout-keep-alive",
        "60",
    ]
    proc = subprocess.Popen(cmd, env=full_env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the API server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def speech_wav() -> bytes:
    path = Path(tempfile.mkdtemp()) / "hello.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "Hello there."], check=True)
    return path.read_bytes()


def face_png() -> bytes:
    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, "PNG")
    return buf.getvalue()


def silence_wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000)
    return buf.getvalue()


def upload_inputs(base: str, audio: bytes) -> dict[str, str]:
    image = httpx.post(f"{base}/api/v1/upload/image", files={"file": ("face.png", face_png())}, timeout=60)
    sound = httpx.post(f"{base}/api/v1/upload/audio", files={"file": ("voice.wav", audio)}, timeout=60)
    image.raise_for_status()
    sound.raise_for_status()
    return {"image_id": image.json()["id"], "audio_id": sound.json()["id"]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def flood(base: str, inputs: dict[str, str], clients: int, per_client: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:

        async def client(n: int) -> None:
            nonlocal errors
            for i in range(per_client):
                body = {**inputs, "options": {"size": 256, "seed": n * per_client + i}}
                start = time.perf_counter()
                try:
                    response = await http.post("/api/v1/jobs", json=body)
                    errors += response.status_code != 202
                except httpx.TransportError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(client(n) for n in range(clients)))
    return latencies, errors


def submit_latency(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    env = {"AVATAR_DATA_DIR": str(workdir / "phase1"), "AVATAR_BROKER_URL": args.broker}
    if args.database:
        env["AVATAR_DATABASE_URL"] = args.database
    with server(env) as base:
        inputs = upload_inputs(base, silence_wav())
        start = time.perf_counter()
        latencies, errors = asyncio.run(flood(base, inputs, args.clients, args.per_client))
        elapsed = time.perf_counter() - start
    ms = [v * 1000 for v in latencies]
    return {
        "requests": len(ms),
        "errors": errors,
        "clients": args.clients,
        "p50_ms": round(percentile(ms, 0.50), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "throughput_rps": round(len(ms) / elapsed, 1),
    }


def queue_overhead(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    env = {"AVATAR_DATA_DIR": str(workdir / "phase2")}
    overheads = []
    with server(env) as base:
        inputs = upload_inputs(base, speech_wav())
        for seed in range(args.overhead_jobs):
            job_id = httpx.post(
                f"{base}/api/v1/jobs", json={**inputs, "options": {"size": 256, "seed": seed}}, timeout=60
            ).json()["job_id"]
            while (info := httpx.get(f"{base}/api/v1/jobs/{job_id}", timeout=60).json())["status"] in (
                "queued",
                "running",
            ):
                time.sleep(0.05)
            if info["status"] != "succeeded":
                raise RuntimeError(f"job {job_id} {info['status']}: {info['error']}")
            wall = datetime.fromisoformat(info["finished_at"]) - datetime.fromisoformat(info["created_at"])
            overheads.append(wall.total_seconds() - sum(info["timings"].values()))
    return {
        "jobs": len(overheads),
        "overhead_ms_mean": round(statistics.fmean(overheads) * 1000, 1),
        "overhead_ms_max": round(max(overheads) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--per-client", type=int, default=5)
    parser.add_argument("--broker", default="memory://", help="memory:// or a redis:// URL nobody consumes")
    parser.add_argument("--database", help="database URL for phase 1 (default: SQLite in a temp dir)")
    parser.add_argument("--overhead-jobs", type=int, default=3, help="0 skips the queue-overhead phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="avatar-bench-") as tmp:
        report = {"submit": submit_latency(args, Path(tmp))}
        if args.overhead_jobs:
            report["queue_overhead"] = queue_overhead(args, Path(tmp))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
