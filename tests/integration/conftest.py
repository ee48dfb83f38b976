"""The distributed stack for integration tests: PostgreSQL + private Redis + SeaweedFS + API + workers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from services import (
    WEBHOOK_SECRET,
    Process,
    Stack,
    WebhookReceiver,
    api_server,
    celery_worker,
    redis_server,
    scratch_database,
    seaweedfs,
    service_env,
)


@pytest.fixture(scope="session")
def speech_wav(assets_dir: Path) -> Path:
    """About 1.5 s of speech from espeak-ng."""
    path = assets_dir / "hello.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "170", "-w", str(path), "Hello, my name is Bob."], check=True)
    return path


def wav2lip_weights(weights_dir: Path) -> Path:
    """A random-weight Wav2Lip checkpoint in the official layout, so `backend=wav2lip` plans a gpu segment."""
    from checkpoints import random_wav2lip_checkpoint

    from models.weights import spec

    (weights_dir / spec("wav2lip").filename).parent.mkdir(parents=True, exist_ok=True)
    random_wav2lip_checkpoint(weights_dir / spec("wav2lip").filename)
    return weights_dir


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("stack")
    weights = wav2lip_weights(workdir / "weights")
    with (
        scratch_database() as db_url,
        redis_server(workdir / "redis") as redis,
        seaweedfs(workdir / "seaweedfs") as s3,
    ):
        env = service_env(
            {
                **s3.env,
                "AVATAR_DATABASE_URL": db_url,
                "AVATAR_BROKER_URL": redis.url,
                "AVATAR_STORAGE_URL": "s3://avatar-it/artifacts",
                "AVATAR_REQUIRE_API_KEY": "true",
                "AVATAR_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "AVATAR_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]',  # the test receiver is on loopback
                "AVATAR_WEBHOOK_BACKOFF_SECONDS": "0.5",
                "AVATAR_JOB_STALL_SECONDS": "8",
                "AVATAR_HEARTBEAT_SECONDS": "1",
                "AVATAR_RECONCILE_INTERVAL_SECONDS": "2",
                "AVATAR_TASK_RETRY_BACKOFF": "0.5",
                "AVATAR_WEIGHTS_DIR": str(weights),
            }
        )
        migrate_env = {**env, "AVATAR_DATA_DIR": str(workdir / "data-cli")}
        subprocess.run([sys.executable, "-c", "from core.db import migrate; migrate()"], env=migrate_env, check=True)
        key = subprocess.run(
            [sys.executable, "-c", "from api.keys import create_key; print(create_key('it')[1])"],
            env=migrate_env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

        def role_env(role: str) -> dict[str, str]:  # no shared local state: each process its own data dir
            return {**env, "AVATAR_DATA_DIR": str(workdir / f"data-{role}")}

        api, base_url = api_server(role_env("api"), workdir / "api.log")
        cpu = celery_worker(role_env("cpu"), "cpu", workdir / "cpu.log", "cpu1")
        gpu = celery_worker(role_env("gpu"), "gpu", workdir / "gpu.log", "gpu1")
        beat = Process(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery_app:app",
                "beat",
                "--loglevel=INFO",
                "-s",
                str(workdir / "beat-schedule"),
            ],
            role_env("beat"),
            workdir / "beat.log",
        ).start()
        hooks = WebhookReceiver()
        stack = Stack(base_url, db_url, key, role_env("cpu"), api, cpu, gpu, beat, redis, hooks, workdir)
        try:
            yield stack
        finally:
            hooks.close()
            for proc in (beat, stack.cpu_worker, stack.gpu_worker, api):
                proc.stop()
