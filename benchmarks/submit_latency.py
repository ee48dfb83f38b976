"""Submit latency and queue overhead of the job API, on loopback only.

    python benchmarks/submit_latency.py [--clients 100] [--per-client 5] [--workers 1] [--overhead-jobs 3]
                                        [--distributed [--postgres URL]]

Every server is the real `avatar serve --workers N`, started on a free loopback port and stopped afterwards.

Phase 1 (submit latency): `--clients` concurrent clients each submit `--per-client` jobs (a bounded loop) to a
server whose jobs go to a broker nobody consumes, and the report gives p50/p99/max latency and throughput.
Phase 2 (queue overhead): `--overhead-jobs` short jobs run one after another (after one warm-up job); queue
overhead per job = wall time from submit to finished minus the time the pipeline nodes themselves took.

Embedded (default): SQLite, phase 1 on an in-memory broker, phase 2 in the server's own worker pool.
`--distributed`: PostgreSQL and Redis. Each phase gets a scratch database created on the `--postgres` server
(dropped afterwards; the login needs CREATEDB) and a private redis-server on a free port; phase 2 adds an
`avatar worker` on the cpu queue.

The load generator speaks HTTP/1.1 over asyncio streams (keep-alive, one connection per client): a general
client library spends more CPU per request than the server does, and on a small machine it would measure itself.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

import httpx

from cli.local_servers import AVATAR, free_port, port_open, process, server, wait_until


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A private redis-server without persistence; yields its address without a database number."""
    if not shutil.which("redis-server"):
        raise SystemExit("--distributed needs redis-server on PATH (apt-get install redis-server)")
    port = free_port()
    cmd = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    with process(cmd, {}, workdir / "redis.log"):
        wait_until(lambda: port_open("127.0.0.1", port), 20, "redis-server")
        yield f"redis://127.0.0.1:{port}"


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A fresh database beside the one `admin_url` names, dropped afterwards; yields its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url.replace("postgresql+psycopg://", "postgresql://"))
    name = f"avatar_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
    import numpy as np

    from models.audio.io import encode_wav

    return encode_wav(np.zeros(16_000))


def upload_inputs(base: str, audio: bytes) -> dict[str, str]:
    image = httpx.post(f"{base}/api/v1/upload/image", files={"file": ("face.png", face_png())}, timeout=60)
    sound = httpx.post(f"{base}/api/v1/upload/audio", files={"file": ("voice.wav", audio)}, timeout=60)
    image.raise_for_status()
    sound.raise_for_status()
    return {"image_id": image.json()["id"], "audio_id": sound.json()["id"]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def post_json(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: dict) -> int:
    """One POST on a kept-alive connection; returns the status code (the body is read and dropped)."""
    payload = json.dumps(body).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}"
    writer.write(head.encode() + b"\r\n\r\n" + payload)
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    length = next(int(v) for k, _, v in (h.partition(":") for h in lines[1:]) if k.lower() == "content-length")
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def flood(base: str, inputs: dict[str, str], clients: int, per_client: int) -> tuple[list[float], int]:
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors = 0

    async def client(n: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in range(per_client):
                body = {**inputs, "options": {"size": 256, "seed": n * per_client + i}}
                start = time.perf_counter()
                errors += await asyncio.wait_for(post_json(reader, writer, "/api/v1/jobs", body), 60) != 202
                latencies.append(time.perf_counter() - start)
        finally:
            writer.close()

    await asyncio.gather(*(client(n) for n in range(clients)))
    return latencies, errors


@contextmanager
def backend(args: argparse.Namespace, workdir: Path, phase: str) -> Iterator[dict[str, str]]:
    """The environment of one phase: its data dir and, when distributed, a scratch database and Redis db."""
    env = {"AVATAR_DATA_DIR": str(workdir / phase)}
    with ExitStack() as stack:
        if args.distributed:
            redis = args.redis  # set by main(): one private redis-server, a database number per phase
            env["AVATAR_DATABASE_URL"] = stack.enter_context(scratch_database(args.postgres))
            env["AVATAR_BROKER_URL"] = f"{redis}/{1 if phase == 'submit' else 2}"
            env["AVATAR_GPU_QUEUE_FALLBACK_TO_CPU"] = "true"
        elif phase == "submit":
            env["AVATAR_BROKER_URL"] = "memory://"  # accepted and queued, never run
        yield env


def submit_latency(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    with backend(args, workdir, "submit") as env, server(env, workdir, args.workers) as (base, _):
        inputs = upload_inputs(base, silence_wav())
        start = time.perf_counter()
        latencies, errors = asyncio.run(flood(base, inputs, args.clients, args.per_client))
        elapsed = time.perf_counter() - start
    ms = [v * 1000 for v in latencies]
    return {
        "requests": len(ms),
        "errors": errors,
        "clients": args.clients,
        "server_workers": args.workers,
        "p50_ms": round(percentile(ms, 0.50), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "throughput_rps": round(len(ms) / elapsed, 1),
    }


def run_job(base: str, inputs: dict[str, str], seed: int) -> float:
    """Submit one job, wait for it; returns its queue overhead in seconds."""
    body = {**inputs, "options": {"size": 256, "seed": seed}}
    response = httpx.post(f"{base}/api/v1/jobs", json=body, timeout=60)
    response.raise_for_status()
    job_id = response.json()["job_id"]
    deadline = time.monotonic() + 300
    while (info := httpx.get(f"{base}/api/v1/jobs/{job_id}", timeout=60).json())["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} still {info['status']} after 300 s")
        time.sleep(0.05)
    if info["status"] != "succeeded":
        raise RuntimeError(f"job {job_id} {info['status']}: {info['error']}")
    wall = datetime.fromisoformat(info["finished_at"]) - datetime.fromisoformat(info["created_at"])
    return wall.total_seconds() - sum(info["timings"].values())


def queue_overhead(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    with ExitStack() as stack:
        env = stack.enter_context(backend(args, workdir, "overhead"))
        base, _ = stack.enter_context(server(env, workdir, args.workers))
        if args.distributed:
            worker = [*AVATAR, "worker", "--queues", "cpu", "--pool", "solo"]
            stack.enter_context(process(worker, env, workdir / "worker.log"))
        inputs = upload_inputs(base, speech_wav())
        run_job(base, inputs, seed=args.overhead_jobs)  # warm-up: worker start, model loading, face-analysis cache
        overheads = [run_job(base, inputs, seed) for seed in range(args.overhead_jobs)]
    return {
        "jobs": len(overheads),
        "overhead_ms_mean": round(statistics.fmean(overheads) * 1000, 1),
        "overhead_ms_max": round(max(overheads) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--per-client", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1, help="server processes (`avatar serve --workers`)")
    parser.add_argument("--overhead-jobs", type=int, default=3, help="0 skips the queue-overhead phase")
    parser.add_argument("--distributed", action="store_true", help="PostgreSQL + Redis instead of SQLite")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server (any database on it) where scratch databases are created",
    )
    args = parser.parse_args()
    if args.workers > 1 and not args.distributed:
        parser.error("--workers > 1 needs --distributed (the embedded server runs jobs in its one process)")
    with tempfile.TemporaryDirectory(prefix="avatar-bench-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        if args.distributed:
            args.redis = stack.enter_context(redis_server(workdir))
        report = {"mode": "distributed" if args.distributed else "embedded"}
        report["submit"] = submit_latency(args, workdir)
        if args.overhead_jobs:
            report["queue_overhead"] = queue_overhead(args, workdir)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
