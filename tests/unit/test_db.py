"""Schema and job-row rules: migrations match the models on SQLite and PostgreSQL; leases make every job
run by one worker at a time and finish once; stalled jobs are found by the reconciler."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from services import scratch_database  # noqa: E402

from core.db import Base, Job, alembic_config, get_engine, migrate, session_scope, sqlalchemy_url, utcnow  # noqa: E402
from workers import segment  # noqa: E402
from workers.jobs import stalled_job_ids  # noqa: E402


def assert_schema_matches_models(url: str) -> None:
    migrate(url)
    migrate(url)  # a second run is a no-op
    with get_engine(url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_migrations_match_models_on_sqlite(tmp_path: Path):
    assert_schema_matches_models(f"sqlite:///{tmp_path / 'nested' / 'a.db'}")


@pytest.mark.integration
def test_migrations_match_models_on_postgresql():
    with scratch_database() as url:
        assert_schema_matches_models(url)
        with get_engine(url).begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        with get_engine(url).connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) != []


def test_postgres_urls_use_psycopg3():
    assert sqlalchemy_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert sqlalchemy_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert sqlalchemy_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.fixture
def job_id(data_dir: Path) -> str:
    migrate()
    job = Job(
        id="j1",
        owner="anonymous",
        status="queued",
        image_key="uploads/x.png",
        options={},
        next_resource="cpu",
        segments=0,
        attempts=0,
        progress=0.0,
        timings={},
        warnings=[],
        heartbeat_at=utcnow(),
    )
    with session_scope() as session:
        session.add(job)
    return job.id


def test_one_lease_at_a_time(job_id: str):
    first = segment.claim(job_id, "cpu", "worker-a")
    assert first is not None and first.status == "running" and first.attempts == 1
    assert segment.claim(job_id, "cpu", "worker-b") is None  # a duplicate delivery is dropped
    assert segment.claim(job_id, "gpu", "worker-c") is None  # the job does not wait for gpu


def test_a_dead_workers_lease_expires(job_id: str, monkeypatch: pytest.MonkeyPatch):
    assert segment.claim(job_id, "cpu", "worker-a")
    with session_scope() as session:
        session.get(Job, job_id).heartbeat_at = utcnow() - timedelta(hours=1)
    assert stalled_job_ids(60) == [job_id]
    second = segment.claim(job_id, "cpu", "worker-b")
    assert second is not None and second.attempts == 2
    assert stalled_job_ids(60) == []


def test_only_the_lease_holder_finishes_the_job(job_id: str):
    assert segment.claim(job_id, "cpu", "worker-a")
    with session_scope() as session:
        session.get(Job, job_id).heartbeat_at = utcnow() - timedelta(hours=1)
    assert segment.claim(job_id, "cpu", "worker-b")
    state = {"output_key": "jobs/j1/output.mp4", "timings": {"finalize": 0.1}, "render_backend": "warp"}
    stale = segment._finish(job_id, "worker-a", "cpu", "succeeded", state, None)
    assert stale.terminal is None  # worker-a lost its lease: its result is not recorded
    live = segment._finish(job_id, "worker-b", "cpu", "succeeded", state, None)
    assert live.terminal == "succeeded"
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert (job.status, job.output_key, job.backend, job.lease_owner) == (
            "succeeded",
            state["output_key"],
            "warp",
            None,
        )
    assert segment.claim(job_id, "cpu", "worker-c") is None  # finished jobs are never claimed again


def test_segments_route_by_resource_class(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from core.settings import get_settings
    from workers.routing import queue_for

    assert (queue_for("cpu"), queue_for("gpu")) == ("cpu", "gpu")
    monkeypatch.setenv("AVATAR_GPU_QUEUE_FALLBACK_TO_CPU", "true")
    get_settings.cache_clear()
    assert queue_for("gpu") == "cpu"
