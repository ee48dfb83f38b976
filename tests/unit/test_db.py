"""Schema and job-row rules: migrations match the models on SQLite and PostgreSQL; leases make every job
run by one worker at a time and finish once; stalled jobs are found by the reconciler."""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from services import scratch_database  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402
from sqlalchemy.exc import IntegrityError  # noqa: E402

from core.db import (  # noqa: E402
    ApiKey,
    Base,
    Job,
    Upload,
    alembic_config,
    get_engine,
    migrate,
    session_scope,
    sqlalchemy_url,
    utcnow,
)
from core.jobs import JobRequest, stalled_jobs  # noqa: E402
from workers import segment  # noqa: E402
from workers.dispatch import requeue, submit_job  # noqa: E402


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
    assert [(job.id, job.resource, job.leased) for job in stalled_jobs(60)] == [(job_id, "cpu", True)]
    second = segment.claim(job_id, "cpu", "worker-b")
    assert second is not None and second.attempts == 2
    assert stalled_jobs(60) == []


def test_a_waiting_job_is_stalled_without_a_lease(job_id: str):
    with session_scope() as session:
        session.get(Job, job_id).heartbeat_at = utcnow() - timedelta(hours=1)  # published an hour ago
    assert [(job.id, job.leased) for job in stalled_jobs(60)] == [(job_id, False)]


def test_the_reconciler_leaves_a_job_that_showed_life_since_it_looked(job_id: str):
    looked = utcnow()
    assert segment.claim(job_id, "cpu", "worker-a")  # a worker took the job meanwhile
    assert requeue([job_id], stalled_before=looked) == []
    with session_scope() as session:
        assert session.get(Job, job_id).lease_owner == "worker-a"


def test_only_the_lease_holder_finishes_the_job(job_id: str, tmp_path: Path):
    from core.storage import open_storage

    assert segment.claim(job_id, "cpu", "worker-a")
    with session_scope() as session:
        session.get(Job, job_id).heartbeat_at = utcnow() - timedelta(hours=1)
    assert segment.claim(job_id, "cpu", "worker-b")
    video = tmp_path / "output.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    state = {
        "output_key": open_storage().store("jobs/j1/output.mp4", video),
        "output_info": {"bytes": video.stat().st_size, "sha256": hashlib.sha256(video.read_bytes()).hexdigest()},
        "timings": {"finalize": 0.1},
        "plan": {"renderer": {"name": "warp", "resource": "cpu", "reason": "warp (auto)", "tried": []}},
    }
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
        (artifact,) = session.scalars(select(Upload).where(Upload.job_id == job_id)).all()  # one, by worker-b
        assert (artifact.kind, artifact.key, artifact.owner) == ("output", state["output_key"], "anonymous")
        assert (artifact.size, artifact.sha256) == (
            video.stat().st_size,
            hashlib.sha256(video.read_bytes()).hexdigest(),
        )
    assert segment.claim(job_id, "cpu", "worker-c") is None  # finished jobs are never claimed again


def test_segments_route_by_resource_class(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from core.settings import get_settings
    from workers.routing import queue_for

    assert (queue_for("cpu"), queue_for("gpu")) == ("cpu", "gpu")
    monkeypatch.setenv("AVATAR_GPU_QUEUE_FALLBACK_TO_CPU", "true")
    get_settings.cache_clear()
    assert queue_for("gpu") == "cpu"


def impatient_sqlite(tmp_path: Path) -> str:
    """A migrated SQLite database whose connections never wait in SQLite's busy handler: a write that finds
    the file locked fails at once with 'database is locked'."""
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    event.listen(get_engine(url), "connect", lambda conn, _record: conn.execute("PRAGMA busy_timeout=0"))
    migrate(url)
    return url


def add_key(url: str, key_id: str, key_hash: str) -> None:
    with session_scope(url) as session:
        session.add(ApiKey(id=key_id, name=key_id, prefix="av_", key_hash=key_hash, created_at=utcnow()))


def write_while_another_writes(url: str) -> None:
    """Thread A keeps a write transaction open for a while; meanwhile this thread writes too."""
    a_wrote = threading.Event()

    def a() -> None:
        with session_scope(url) as session:
            session.add(ApiKey(id="a", name="a", prefix="av_", key_hash="hash-a", created_at=utcnow()))
            session.flush()
            a_wrote.set()
            time.sleep(0.3)

    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(a)
        assert a_wrote.wait(5)
        start = time.monotonic()
        add_key(url, "b", "hash-b")  # queues behind A in the process instead of failing in SQLite
        holder.result(timeout=5)
    assert time.monotonic() - start < 5


def test_sqlite_writers_of_one_process_take_turns(tmp_path: Path):
    url = impatient_sqlite(tmp_path)
    write_while_another_writes(url)
    with session_scope(url) as session:
        assert sorted(session.scalars(select(ApiKey.id))) == ["a", "b"]


def test_a_failed_sqlite_write_hands_the_turn_on(tmp_path: Path):
    url = impatient_sqlite(tmp_path)
    add_key(url, "x", "hash-x")
    with pytest.raises(IntegrityError):
        add_key(url, "y", "hash-x")  # the same key_hash again: rolled back
    write_while_another_writes(url)  # A would wait out the gate's 30 s timeout had the failure kept the turn
    with session_scope(url) as session:
        assert sorted(session.scalars(select(ApiKey.id))) == ["a", "b", "x"]


def test_a_sqlite_write_waits_for_another_process_s_lock_at_most_the_database_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from core.settings import get_settings

    monkeypatch.setenv("AVATAR_DATABASE_TIMEOUT_SECONDS", "0.5")
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    migrate(url)
    with get_engine(url).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 500  # SQLite's own wait for a lock
    other = sqlite3.connect(tmp_path / "busy.db")  # another process's writer (not in this process's write gate)
    other.execute("BEGIN IMMEDIATE")
    try:
        with ThreadPoolExecutor(1) as pool, pytest.raises(OperationalError, match="database is locked"):
            pool.submit(add_key, url, "late", "hash-late").result(timeout=20)
    finally:
        other.rollback()
        other.close()
    add_key(url, "late", "hash-late")  # once the lock is gone
    get_settings.cache_clear()


def test_concurrent_submits_with_one_idempotency_key_make_one_job(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from core.settings import get_settings

    monkeypatch.setenv("AVATAR_BROKER_URL", "memory://")  # queued, never run
    get_settings.cache_clear()
    migrate()
    request = JobRequest("anonymous", "uploads/x.png", "uploads/y.wav", None, {"seed": 1}, idempotency_key="k-1")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: submit_job(request), range(8)))
    assert len({job.id for job, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1
