"""What keeps a run fast as a user feels it: a lean `avatar generate` process, and progress that costs nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from core.storage import open_storage
from pipeline.runner import new_job_state, run_in_process

# Heavy modules a CLI run on the embedded models never needs: each costs a fresh process 0.2-2.5 s.
NOT_ON_THE_CLI_PATH = (
    "torch",
    "boto3",
    "fastapi",
    "celery",
    "langgraph.checkpoint.postgres",
    "scipy.signal",
    "scipy.interpolate",
    "numba",
)


def test_avatar_generate_imports_none_of_the_heavy_optional_modules(astronaut_png, tmp_path):
    code = (
        "import atexit, json, sys\n"
        f"heavy = {NOT_ON_THE_CLI_PATH!r}\n"
        "atexit.register(lambda: print(json.dumps(sorted(m for m in heavy if m in sys.modules))))\n"
        "from cli.main import app\n"
        "app()\n"
    )
    out = tmp_path / "out.mp4"
    args = ["generate", "-i", str(astronaut_png), "-t", "Bob bought a map.", "-o", str(out), "--size", "256"]
    run = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=os.environ | {"AVATAR_DATA_DIR": str(tmp_path / "data")},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 0
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []


def test_progress_is_reported_a_few_times_a_second_not_per_frame(astronaut_png, data_dir):
    job_id = uuid.uuid4().hex
    image_key = open_storage().store(f"jobs/{job_id}/input/image.png", astronaut_png)
    state = new_job_state(job_id, image_key, None, "Hello there, this is a short test of the progress.", {"size": 128})
    reports: list[float] = []
    final = run_in_process(state, on_progress=lambda node, f: node == "video_generation" and reports.append(f))
    frames = round(final["duration"] * 25)
    assert reports[0] == 0.0 and reports[-1] == 1.0
    assert sorted(reports) == reports
    # the runner's 0 and 1, the first frame, the last frame, and at most one report per 0.25 s between them
    assert len(reports) <= 4 + final["timings"]["video_generation"] / 0.25 < frames


def test_a_photo_is_searched_for_faces_once(astronaut_png, data_dir, tmp_path, monkeypatch):
    """The check before the job, the resting expression and the analysis share one detection (the CNN retry alone
    takes seconds); a later job on the same photo, at another size, searches it no more."""
    from cli.generate import generate_video
    from models.face import landmarks as lm

    searched = []
    detect_faces = lm.detect_faces

    def counted(rgb, notes=None, retry=True):
        searched.append(rgb.shape)
        return detect_faces(rgb, notes, retry)

    monkeypatch.setattr(lm, "detect_faces", counted)
    generate_video(astronaut_png, None, "Hi.", tmp_path / "first.mp4", {"size": 128}, show_progress=False)
    assert searched == [(512, 512, 3)]
    generate_video(astronaut_png, None, "Hi.", tmp_path / "second.mp4", {"size": 160}, show_progress=False)
    assert searched == [(512, 512, 3)]
    assert len(list((data_dir / "cache" / "faces").glob("*.npz"))) == 2  # two sizes: analysed twice


def test_avatar_bench_times_the_three_paths_side_by_side(astronaut_png, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "cli.main", "bench", "--image", str(astronaut_png), "--seconds", "2"]
        + ["--size", "128", "--runs", "1", "--json"],
        capture_output=True,
        text=True,
        env=os.environ | {"AVATAR_DATA_DIR": str(tmp_path / "data")},
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["audio_seconds"] == 2.0 and report["input"] == "audio"
    assert report["baseline_encode_only_s"] > 0 and report["baseline_encode_only_cpu_s"] > 0
    for path in ("cold", "warm", "api"):
        figures = report[path]
        assert len(figures["runs_s"]) == 1 and figures["median_s"] > 0 and figures["median_cpu_s"] > 0
        assert figures["x_audio"] == round(figures["median_s"] / 2.0, 3)
    # a fresh process pays its start-up; the warm pipeline does not
    assert report["cold"]["start_up_and_exit_s"] > 0
    assert report["cold"]["median_s"] > report["warm"]["median_s"]
    assert set(report["warm"]["median_node_s"]) >= {"audio_processing", "video_generation", "finalize"}
    assert report["api"]["nodes_s"] < report["api"]["median_s"]
