"""Embedded mode: `avatar serve` with no broker runs jobs in-process on SQLite and local storage, with the
same API; batch submission and backfill work against it."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from services import api_server, service_env

from cli.client import AvatarClient
from models.audio.io import write_wav

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    workdir = tmp_path_factory.mktemp("embedded")
    env = service_env({"AVATAR_DATA_DIR": str(workdir / "data"), "AVATAR_LOCAL_WORKERS": "2"})
    api, base_url = api_server(env, workdir / "api.log")
    try:
        yield base_url, env
    finally:
        api.stop()


def test_a_job_runs_in_process_and_streams_its_result(embedded, astronaut_png: Path, speech_wav: Path):
    base_url, _ = embedded
    client = AvatarClient(base_url)
    body = {
        "image_id": client.upload("image", astronaut_png),
        "audio_id": client.upload("audio", speech_wav),
        "options": {"size": 256},
    }
    job_id = client.submit(body)
    info = client.wait(job_id, timeout=180, poll=0.5)
    assert info["status"] == "succeeded", info
    # the emotion phrase by phrase, in order over the speech, and what decided the performance
    track = info["emotion_track"]
    assert track and all(a["end"] <= b["start"] + 1e-6 for a, b in zip(track, track[1:], strict=False))
    assert {p["primary"] for p in track} <= {"neutral", "happy", "sad", "angry", "surprised"}
    assert info["controller"] == "rules"
    assert httpx.get(f"{base_url}/api/v1/status").json()["mode"] == "embedded"
    r = httpx.get(f"{base_url}/api/v1/jobs/{job_id}/result")
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4" and r.content[4:8] == b"ftyp"


def test_batch_is_resumable_and_backfill_requeues_failures(
    embedded, tmp_path: Path, astronaut_png: Path, cat_png: Path, speech_wav: Path
):
    base_url, env = embedded
    silence = tmp_path / "silence.wav"
    write_wav(silence, np.zeros(16_000))
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "id,image,audio,text,size\n"
        f"hello,{astronaut_png},{speech_wav},,256\n"
        f"typed,{astronaut_png},,Hi there.,256\n"
        f"cat,{cat_png},,Meow.,256\n"
        f"silent,{astronaut_png},{silence},,256\n"
    )
    results = tmp_path / "results.csv"
    cmd = [
        sys.executable,
        "scripts/batch_submit.py",
        str(manifest),
        "--results",
        str(results),
        "--out-dir",
        str(tmp_path / "videos"),
        "--api",
        base_url,
        "--concurrency",
        "2",
    ]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2])
    assert first.returncode == 1, first.stdout + first.stderr  # the cat has no face; no one speaks in silence.wav
    assert "rows=4 skipped=0 succeeded=2 failed=2" in first.stdout
    rows = {row["id"]: row for row in csv.DictReader(results.open())}
    assert rows["hello"]["status"] == rows["typed"]["status"] == "succeeded"
    assert Path(rows["hello"]["output"]).read_bytes()[4:8] == b"ftyp"
    # a photo without a face is refused at its upload (no job); a silent recording fails its job at the audio step
    assert rows["cat"]["status"] == "failed" and not rows["cat"]["job_id"]
    assert rows["cat"]["error"].startswith("HTTP 422 from /api/v1/upload/image: no_face: No face found")
    assert rows["silent"]["status"] == "failed" and rows["silent"]["error"].startswith("silent_audio")

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2])
    assert "rows=4 skipped=2 succeeded=0 failed=2" in again.stdout
    assert {row["job_id"] for row in csv.DictReader(results.open())} == {r["job_id"] for r in rows.values()}

    backfill = [sys.executable, "scripts/batch_backfill.py", "--status", "failed", "--since", "2000-01-01"]
    dry = subprocess.run(
        [*backfill, "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert rows["silent"]["job_id"] in dry.stdout and "1 job(s) would be re-enqueued" in dry.stdout, dry.stderr

    # without a broker, backfill runs the re-enqueued jobs in its own process before it exits
    real = subprocess.run(backfill, env=env, capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert "re-enqueued 1 job(s)" in real.stdout, real.stderr
    job = AvatarClient(base_url).job(rows["silent"]["job_id"])
    assert job["status"] == "failed" and job["attempts"] == 2 and job["error"]["code"] == "silent_audio"


def test_a_video_job_re_voices_an_uploaded_video(embedded, astronaut_png: Path, tmp_path: Path):
    """video_id instead of image_id: the talking video one job made is re-voiced by a second job, which keeps its
    frame size and rate; a batch manifest row names the video the same way."""
    from models.media.video import probe

    base_url, env = embedded
    client = AvatarClient(base_url)
    photo = client.upload("image", astronaut_png)
    first = client.submit({"image_id": photo, "text": "Hello.", "options": {"size": 192}})
    assert client.wait(first, timeout=180, poll=0.5)["status"] == "succeeded"
    talking = client.download(first, tmp_path / "talking.mp4")

    both = httpx.post(
        f"{base_url}/api/v1/jobs",
        json={"image_id": photo, "video_id": client.upload("video", talking), "text": "Hi."},
    )
    assert both.status_code == 422 and "not both" in both.json()["error"]["message"]

    job = client.submit({"video_id": client.upload("video", talking), "text": "Bob and Pam bought a big blue map."})
    info = client.wait(job, timeout=180, poll=0.5)
    assert info["status"] == "succeeded", info
    assert info["backend"] == "warp"
    out = probe(client.download(job, tmp_path / "dubbed.mp4"))
    source = probe(talking)
    assert (out["width"], out["height"], out["fps"]) == (source["width"], source["height"], source["fps"])
    assert out["frames"] > source["frames"]  # the longer sentence: the video ping-pongs on to its end

    manifest = tmp_path / "videos.csv"
    manifest.write_text(f"id,video,text,trim\ndub,{talking},Bob and Pam bought a big blue map.,true\n")
    results = tmp_path / "results.csv"
    batch = subprocess.run(
        [sys.executable, "scripts/batch_submit.py", str(manifest), "--results", str(results),
         "--out-dir", str(tmp_path / "batch"), "--api", base_url],
        env=env, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert batch.returncode == 0, batch.stdout + batch.stderr
    row = next(csv.DictReader(results.open()))
    assert row["status"] == "succeeded" and probe(Path(row["output"]))["frames"] == source["frames"]  # trimmed
