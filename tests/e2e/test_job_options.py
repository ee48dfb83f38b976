"""Job options come from one place: the settings fill what a request leaves unset, on every path; the job's
record says which renderer ran and why."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from test_cli_generate import avatar

from core.db import Job, Upload, migrate, session_scope
from core.storage import open_storage
from models.media.video import probe
from workers import segment


def test_cli_takes_its_defaults_from_the_settings(astronaut_png: Path, tmp_path: Path):
    """`avatar generate` without --fps/--size follows AVATAR_* and configs/model_config.yaml; flags still win."""
    config = tmp_path / "model_config.yaml"
    config.write_text("settings:\n  size: 160\n  fps: 12\n")
    data = tmp_path / "data"
    out = tmp_path / "from-settings.mp4"
    args = ["generate", "-i", str(astronaut_png), "--text", "Hi Bob.", "-o", str(out), "--json"]
    run = avatar(*args, data_dir=data, env={"AVATAR_MODEL_CONFIG": str(config), "AVATAR_FPS": "10"})
    assert run.returncode == 0, run.stderr
    info = probe(out)
    assert (info["width"], info["fps"]) == (160, 10)  # size from the YAML file, fps from the environment
    assert json.loads(run.stdout)["options"] | {"size": 160, "fps": 10} == json.loads(run.stdout)["options"]

    flagged = tmp_path / "flag.mp4"
    run = avatar(*args[:-3], "-o", str(flagged), "--fps", "8", data_dir=data, env={"AVATAR_FPS": "10"})
    assert run.returncode == 0, run.stderr
    assert probe(flagged)["fps"] == 8


def test_cli_refuses_bad_options_naming_them(astronaut_png: Path, tmp_path: Path):
    for flag, value, named in (("--size", "64", "size"), ("--emotion", "fearful", "emotion"), ("--fps", "0", "fps")):
        run = avatar("generate", "-i", str(astronaut_png), "--text", "Hi.", flag, value, data_dir=tmp_path)
        assert run.returncode == 2, run.stderr
        assert named in run.stderr and "Traceback" not in run.stderr


def test_job_row_records_the_plans_reason(astronaut_png: Path, data_dir: Path):
    """The renderer's real reason ("wav2lip weights missing ... -> warp") reaches the job row, not just its name."""
    migrate()
    job_id = uuid.uuid4().hex
    image_key = open_storage().store(f"uploads/{job_id}.png", astronaut_png)
    with session_scope() as session:
        job = Job(id=job_id, owner="anonymous", status="queued", image_key=image_key, text="Hi Bob.")
        job.options = {"size": 160}
        session.add(job)
    outcome = segment.run_job_segment(job_id, "cpu", segment.new_lease())
    assert outcome.terminal == "succeeded"
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job.backend == "warp"
        assert "wav2lip weights missing" in job.backend_reason and job.backend_reason.endswith("-> warp")
        (output,) = session.scalars(select(Upload).where(Upload.job_id == job_id)).all()
    stored = open_storage().fetch(job.output_key).read_bytes()
    assert (output.size, output.sha256) == (len(stored), hashlib.sha256(stored).hexdigest())


def test_bad_options_in_a_stored_job_are_refused(data_dir: Path):
    from pipeline.runner import new_job_state

    with pytest.raises(ValueError, match="size"):
        new_job_state("j", "uploads/x.png", None, "Hi.", {"size": 10_000})
