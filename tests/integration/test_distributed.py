"""End to end on PostgreSQL + Redis + SeaweedFS with real API and Celery worker processes: jobs through HTTP,
presigned downloads, output records, signed webhooks, a gpu hop. Faults are in test_faults.py."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from services import OPTIONS, WEBHOOK_SECRET, Stack, hooks_for, output_artifacts, submit, wait_hooks, wait_terminal

from workers.webhooks import SIGNATURE_HEADER, verify_signature

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_ten_jobs_succeed_with_presigned_results_and_signed_webhooks(stack: Stack, inputs: dict[str, str]):
    job_ids = [submit(stack, inputs, options={**OPTIONS, "seed": i}) for i in range(10)]
    jobs = wait_terminal(stack, job_ids)
    assert {j: v["status"] for j, v in jobs.items()} == {j: "succeeded" for j in job_ids}, jobs

    for job_id, info in jobs.items():
        assert info["progress"] == 1.0 and info["backend"] and info["error"] is None
        assert {"audio_processing", "video_generation", "finalize"} <= set(info["timings"])
        r = httpx.get(f"{stack.base_url}/api/v1/jobs/{job_id}/result", headers=stack.headers, timeout=30)
        assert r.status_code == 307
        presigned = r.headers["location"]
        assert "X-Amz-Signature=" in presigned
        video = httpx.get(presigned, timeout=30)
        assert video.status_code == 200 and video.content[4:8] == b"ftyp" and len(video.content) > 1000
        # the output's record says what was stored: its size and SHA-256, once
        assert output_artifacts(stack, job_id) == [(len(video.content), hashlib.sha256(video.content).hexdigest())]
        assert httpx.get(presigned.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=30).status_code == 403

    wait_hooks(stack, job_ids)
    for headers, body in stack.hooks.calls:
        assert verify_signature(WEBHOOK_SECRET, body, headers[SIGNATURE_HEADER])
        assert not verify_signature("wrong-secret", body, headers[SIGNATURE_HEADER])
    for job_id in job_ids:
        (hook,) = hooks_for(stack, job_id)
        assert hook["status"] == "succeeded" and hook["error"] is None
        assert httpx.get(hook["result_url"], timeout=30).content[4:8] == b"ftyp"


def test_a_gpu_backend_hops_cpu_gpu_cpu(stack: Stack, inputs: dict[str, str]):
    from sqlalchemy import create_engine, text

    from core.db import sqlalchemy_url

    job_id = submit(stack, inputs, options={**OPTIONS, "backend": "wav2lip", "enhancer": "none"})
    info = wait_terminal(stack, [job_id])[job_id]
    assert info["status"] == "succeeded" and info["backend"] == "wav2lip", info
    engine = create_engine(sqlalchemy_url(stack.db_url))
    with engine.connect() as conn:  # two hand-offs: cpu -> gpu, gpu -> cpu
        assert conn.execute(text("SELECT segments FROM jobs WHERE id = :id"), {"id": job_id}).scalar() == 2
    engine.dispose()
    assert f"job {job_id}: running gpu segment" in stack.gpu_worker.tail(100_000)


def test_every_worker_answers_under_its_own_name(stack: Stack):
    import re

    from celery import Celery

    replies = Celery(broker=stack.redis.url).control.ping(timeout=3)
    names = [name for reply in replies for name in reply]
    assert len(names) == len(set(names)) >= 2, names  # the cpu and the gpu worker of one host
    assert all(re.fullmatch(r"avatar-(cpu|gpu)-\d+@.+", name) for name in names), names


def test_a_video_job_is_re_voiced_by_the_gpu_worker_from_storage(stack: Stack, inputs: dict[str, str], tmp_path):
    """video_id on the Celery set-up: the talking video one job made (fetched from S3) is uploaded and re-voiced
    with Wav2Lip, whose segment runs on the gpu worker reading the video from storage."""
    from services import upload

    from models.media.video import probe

    first = submit(stack, inputs)
    assert wait_terminal(stack, [first])[first]["status"] == "succeeded"
    talking = tmp_path / "talking.mp4"
    result = httpx.get(f"{stack.base_url}/api/v1/jobs/{first}/result", headers=stack.headers, follow_redirects=True)
    talking.write_bytes(result.content)

    body = {"video_id": upload(stack, "video", talking), "text": "Bob and Pam bought a big blue map."}
    job_id = submit(stack, body, options={"backend": "wav2lip"})
    info = wait_terminal(stack, [job_id])[job_id]
    assert info["status"] == "succeeded" and info["backend"] == "wav2lip", info
    assert f"job {job_id}: running gpu segment" in stack.gpu_worker.tail(100_000)
    dubbed = tmp_path / "dubbed.mp4"
    result = httpx.get(f"{stack.base_url}/api/v1/jobs/{job_id}/result", headers=stack.headers, follow_redirects=True)
    dubbed.write_bytes(result.content)
    source, out = probe(talking), probe(dubbed)
    assert (out["width"], out["height"], out["fps"]) == (source["width"], source["height"], source["fps"])
