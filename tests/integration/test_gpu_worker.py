"""A gpu worker without a CUDA device (this machine's: torch is a CPU build) says so at start, in its log, to
Celery's `inspect device` and in /api/v1/status; work planned for a GPU that reaches it is refused and falls back
down the chain, the reason recorded in the job."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import redis
from celery import Celery
from services import OPTIONS, Stack, submit, wait_terminal

from core.gpu_workers import KEY_PREFIX
from models.device import cuda_available

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(cuda_available(), reason="the gpu worker here has CUDA: nothing to refuse"),
]

START_WARNING = "no CUDA device: torch "


def gpu_worker_name(stack: Stack) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in stack.gpu_worker.tail(100_000).splitlines():
            if "gpu worker avatar-gpu-" in line and START_WARNING in line:
                return line.split("gpu worker ", 1)[1].split(":", 1)[0]
        time.sleep(0.5)
    raise AssertionError(f"the gpu worker logged no device report:\n{stack.gpu_worker.tail()}")


def device_answers(stack: Stack, name: str) -> dict[str, dict]:
    """Each worker's answer to `inspect device`, once the gpu worker's is in (a busy machine answers late)."""
    answers: dict[str, dict] = {}
    deadline = time.monotonic() + 60
    while name not in answers and time.monotonic() < deadline:
        try:
            replies = Celery(broker=stack.redis.url).control.broadcast("device", reply=True, timeout=5, limit=2)
        except redis.exceptions.ConnectionError:  # a connection from before the fault tests restarted Redis
            time.sleep(0.5)
            continue
        answers = {node: answer for reply in replies for node, answer in reply.items()}
    return answers


def test_a_gpu_worker_without_cuda_says_so_at_start(stack: Stack):
    name = gpu_worker_name(stack)
    log = stack.gpu_worker.tail(100_000)
    assert "is a CPU-only build. Work planned for a GPU (SadTalker or GFPGAN chosen by auto) is refused" in log
    assert "AVATAR_GPU_QUEUE_FALLBACK_TO_CPU=true" in log and "WARNING" in log
    assert "gpu worker" not in stack.cpu_worker.tail(100_000)  # a cpu worker has nothing to report

    answers = device_answers(stack, name)
    assert answers[name]["cuda"] is False and answers[name]["device"].startswith(START_WARNING)
    assert answers[name]["queues"] == ["gpu"]
    assert [a for node, a in answers.items() if node != name] == [{}]  # the cpu worker

    status = httpx.get(f"{stack.base_url}/api/v1/status", timeout=30).json()
    (listed,) = status["gpu_workers"]
    assert (listed["name"], listed["cuda"]) == (name, False) and listed["device"] == answers[name]["device"]


def test_work_planned_for_a_gpu_falls_back_on_a_gpu_worker_without_one(stack: Stack, inputs: dict[str, str]):
    """A mixed pool: another gpu worker reported CUDA, so `auto` plans SadTalker; this one takes the segment."""

    gpu_worker_name(stack)
    folder = stack.workdir / "weights" / "sadtalker"
    folder.mkdir(parents=True, exist_ok=True)
    names = ("SadTalker_V0.0.2_256.safetensors", "mapping_00109-model.pth.tar", "mapping_00229-model.pth.tar")
    for file in names:  # present, which is what planning checks; never read (the refusal comes first)
        (folder / file).write_bytes(b"placeholder")
    elsewhere = {"name": "avatar-gpu-1@gpu-box", "cuda": True, "device": "CUDA: 1 x NVIDIA H200", "reported_at": 0}
    broker = redis.Redis.from_url(stack.redis.url)
    broker.set(KEY_PREFIX + elsewhere["name"], json.dumps(elsewhere), ex=120)
    try:
        job_id = submit(stack, inputs, options={**OPTIONS, "backend": "auto", "enhancer": "none"})
        info = wait_terminal(stack, [job_id])[job_id]
    finally:
        broker.delete(KEY_PREFIX + elsewhere["name"])
        for file in names:
            (folder / file).unlink()
    assert info["status"] == "succeeded" and info["backend"] == "wav2lip", info
    refusal = "sadtalker was planned for a CUDA device, and this worker has none (no CUDA device: torch "
    assert f"sadtalker failed: {refusal}" in info["backend_reason"] and info["backend_reason"].endswith("-> wav2lip")
    assert any(w.startswith(f"renderer sadtalker failed ({refusal}") for w in info["warnings"]), info["warnings"]
    log = stack.gpu_worker.tail(100_000)
    assert f"job {job_id}: running gpu segment" in log and "renderer sadtalker failed" in log
