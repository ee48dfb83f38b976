"""One retry policy for the Celery task and the embedded pool: input errors and bugs fail the job at once with
their code, infrastructure errors are retried with backoff; and leases that belong to live processes only."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from services import free_port  # noqa: E402

from core.db import Job, migrate, session_scope, utcnow  # noqa: E402
from core.errors import InputError  # noqa: E402
from core.jobs import JobRequest, create_job  # noqa: E402
from core.settings import get_settings  # noqa: E402
from workers import dispatch, local, segment  # noqa: E402
from workers.retry import RETRY_DELAY_CAP, is_infrastructure, verdict  # noqa: E402


def closed_port_url(driver: str = "postgresql+psycopg") -> str:
    return f"{driver}://nobody@127.0.0.1:{free_port()}/nothing?connect_timeout=2"


def test_errors_have_classes():
    with pytest.raises(sqlalchemy.exc.OperationalError) as refused:
        sqlalchemy.create_engine(closed_port_url()).connect()
    with pytest.raises(psycopg.OperationalError) as refused_direct:
        psycopg.connect(closed_port_url("postgresql"))
    assert is_infrastructure(refused.value) and is_infrastructure(refused_direct.value)
    wrapped = RuntimeError("checkpoint write failed")
    wrapped.__cause__ = refused_direct.value
    assert is_infrastructure(wrapped)  # raised from an outage
    backoff = get_settings().task_retry_backoff
    assert [verdict(refused.value, n).delay for n in (0, 1, 2)] == [backoff, 2 * backoff, 4 * backoff]
    assert (
        verdict(refused.value, 1000) == verdict(refused.value, 10)
        and verdict(refused.value, 10).delay == RETRY_DELAY_CAP
    )

    no_face = verdict(InputError("no_face", "No face found in the photo."), 0)
    assert (no_face.retry, no_face.code, no_face.message) == (False, "no_face", "No face found in the photo.")
    bug = verdict(ValueError("zero-size array to reduction operation maximum which has no identity"), 0)
    assert (bug.retry, bug.code) == (False, "internal_error") and bug.message.startswith("ValueError: zero-size")


@pytest.fixture
def db(data_dir: Path) -> Path:
    migrate()
    return data_dir


def add_job(**values: object) -> str:
    job, _ = create_job(JobRequest("anonymous", "uploads/x.png", values.pop("audio_key", None), None, {}))
    with session_scope() as session:
        for name, value in values.items():
            setattr(session.get(Job, job.id), name, value)
    return job.id


def row(job_id: str) -> Job:
    with session_scope() as session:
        return session.get(Job, job_id)


def test_an_input_error_fails_the_job_once_in_the_embedded_pool(db: Path):
    job, created = dispatch.submit_job(JobRequest("anonymous", "uploads/x.png", None, "  ", {}))  # no speech
    assert created
    local.shutdown(wait=True)  # the pool ran it
    failed = row(job.id)
    assert (failed.status, failed.error_code, failed.attempts) == ("failed", "no_speech", 1)
    assert "Give the speech" in failed.error_message and failed.lease_owner is None


def test_a_bug_fails_at_once_as_internal_error(db: Path):
    job_id = add_job(audio_key="uploads/never-stored.wav")
    outcome = segment.run_job_segment(job_id, "cpu", segment.new_lease())
    assert (outcome.ran, outcome.terminal) == (True, "failed")
    failed = row(job_id)
    assert (failed.status, failed.error_code, failed.attempts) == ("failed", "internal_error", 1)
    assert failed.error_message.startswith("FileNotFoundError: no object 'uploads/never-stored.wav'")


def test_an_outage_is_retried_and_the_retry_takes_over_its_own_lease(db: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AVATAR_CHECKPOINT_URL", closed_port_url("postgresql"))  # the checkpoint store is down
    get_settings.cache_clear()
    job_id = add_job(audio_key="uploads/y.wav")
    lease = segment.new_lease()
    with pytest.raises(segment.RetryLater) as later:
        segment.run_job_segment(job_id, "cpu", lease, retries=2)
    assert later.value.delay == 4 * get_settings().task_retry_backoff
    waiting = row(job_id)
    assert (waiting.status, waiting.lease_owner, waiting.attempts) == ("running", None, 1)  # released, not failed

    # had the release failed too, the lease would still look alive: only the retry of that try may take it
    with session_scope() as session:
        session.get(Job, job_id).lease_owner, session.get(Job, job_id).heartbeat_at = lease, utcnow()
    assert segment.claim(job_id, "cpu", segment.new_lease()) is None  # a duplicate message
    assert segment.claim(job_id, "cpu", segment.new_lease(), previous=lease) is not None


def test_a_lease_lapses_after_three_heartbeats(db: Path):
    beat = get_settings().heartbeat_seconds
    job_id = add_job(
        status="running", lease_owner="elsewhere/0000:1:x", heartbeat_at=utcnow() - timedelta(seconds=2.5 * beat)
    )
    assert segment.claim(job_id, "cpu", segment.new_lease()) is None
    with session_scope() as session:
        session.get(Job, job_id).heartbeat_at = utcnow() - timedelta(seconds=3.5 * beat)
    assert segment.claim(job_id, "cpu", segment.new_lease()) is not None


def test_the_lease_of_a_dead_process_of_this_machine_is_taken_over_at_once(db: Path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    node = segment.new_lease().split(":")[0]
    dead, alive = f"{node}:{gone.stdout.strip()}:deadbeef", segment.new_lease()
    other_machine = f"elsewhere/12345678:{gone.stdout.strip()}:deadbeef"
    assert segment.holder_is_dead(dead) and not segment.holder_is_dead(alive)
    assert not segment.holder_is_dead(other_machine)  # its pid says nothing here
    for holder, taken in ((alive, False), (other_machine, False), (dead, True)):
        job_id = add_job(status="running", lease_owner=holder, heartbeat_at=utcnow())
        assert (segment.claim(job_id, "cpu", segment.new_lease()) is not None) is taken, holder


def test_a_cancelled_segment_stops_at_its_next_progress_report(db: Path):
    job_id = add_job()
    lease = segment.new_lease()
    assert segment.claim(job_id, "cpu", lease)
    report = segment._progress_reporter(job_id, lease)
    report("audio_processing", 0.5)
    assert row(job_id).current_node == "audio_processing"
    assert dispatch.cancel(job_id)
    with pytest.raises(segment.LeaseLost):
        report("audio_processing", 0.75)
