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
    avatar,
    celery_worker,
    private_postgres,
    redis_server,
    seaweedfs,
    service_env,
    upload,
)


@pytest.fixture(scope="session")
def speech_wav(assets_dir: Path) -> Path:
    """About 1.5 s of speech from espeak-ng."""
    path = assets_dir / "hello.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "170", "-w", str(path), "Hello, my name is Bob."], check=True)
    return path


@pytest.fixture(scope="session")
def long_speech_wav(assets_dir: Path) -> Path:
    """About 10 s of speech: a render long enough to be interrupted in the middle."""
    path = assets_dir / "long.wav"
    text = "The quick brown fox jumps over the lazy dog, and then it runs back home across the field. " * 2
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
    return path


def wav2lip_weights(weights_dir: Path) -> Path:
    """A random-weight Wav2Lip checkpoint in the official layout, so `backend=wav2lip` plans a gpu segment."""
    from checkpoints import random_wav2lip_checkpoint

    from models.weights import spec

    (weights_dir / spec("wav2lip").filename).parent.mkdir(parents=True, exist_ok=True)
    random_wav2lip_checkpoint(weights_dir / spec("wav2lip").filename)
    return weights_dir


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The distributed set-up as docs/operations.md runs it, with default liveness settings: a private PostgreSQL
    (tests stop it), a private Redis (tests restart it), SeaweedFS, the API, one cpu and one gpu `avatar worker`
    and `avatar reconcile --loop`. Tests that stop or replace a part leave it running again."""
    workdir = tmp_path_factory.mktemp("stack")
    weights = wav2lip_weights(workdir / "weights")
    with (
        private_postgres() as postgres,
        redis_server(workdir / "redis") as redis,
        seaweedfs(workdir / "seaweedfs") as s3,
    ):
        db_url = postgres.create_database("avatar")
        env = service_env(
            {
                **s3.env,
                "AVATAR_DATABASE_URL": db_url,
                "AVATAR_BROKER_URL": redis.url,
                "AVATAR_STORAGE_URL": "s3://avatar-it/artifacts",
                "AVATAR_REQUIRE_API_KEY": "true",
                "AVATAR_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "AVATAR_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]',  # the test receivers are on loopback
                "AVATAR_WEBHOOK_BACKOFF_SECONDS": "0.5",
                "AVATAR_WEBHOOK_MAX_ATTEMPTS": "4",
                "AVATAR_WEIGHTS_DIR": str(weights),
            }
        )
        migrate_env = {**env, "AVATAR_DATA_DIR": str(workdir / "data-cli")}
        subprocess.run(avatar("migrate"), env=migrate_env, check=True, capture_output=True)
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
        cpu = celery_worker(role_env("cpu"), "cpu", workdir / "cpu.log")
        gpu = celery_worker(role_env("gpu"), "gpu", workdir / "gpu.log")
        reconciler = Process(avatar("reconcile", "--loop"), role_env("reconciler"), workdir / "reconciler.log").start()
        hooks = WebhookReceiver()
        stack = Stack(
            base_url, db_url, key, role_env("cpu"), api, cpu, gpu, reconciler, postgres, redis, hooks, workdir
        )
        try:
            yield stack
        finally:
            hooks.close()
            for proc in (reconciler, stack.cpu_worker, stack.gpu_worker, api):
                proc.stop()


@pytest.fixture(scope="session")
def inputs(stack: Stack, astronaut_png: Path, speech_wav: Path) -> dict[str, str]:
    return {"image_id": upload(stack, "image", astronaut_png), "audio_id": upload(stack, "audio", speech_wav)}


@pytest.fixture(scope="session")
def long_inputs(stack: Stack, inputs: dict[str, str], long_speech_wav: Path) -> dict[str, str]:
    return {**inputs, "audio_id": upload(stack, "audio", long_speech_wav)}
