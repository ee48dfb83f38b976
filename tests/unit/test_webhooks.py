"""Webhook signatures and delivery: signed bodies verify, tampering fails, every attempt is recorded."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from services import WebhookReceiver  # noqa: E402

from core.db import Job, WebhookDelivery, migrate, session_scope, utcnow  # noqa: E402
from workers.webhooks import SIGNATURE_HEADER, deliver, retry_delay, sign, verify_signature  # noqa: E402

SECRET = "whsec-test"


def test_signature_round_trip_and_tampering():
    body = b'{"job_id":"abc","status":"succeeded"}'
    header = sign(SECRET, body)
    assert verify_signature(SECRET, body, header)
    assert not verify_signature(SECRET, body + b" ", header)
    assert not verify_signature("other", body, header)
    assert not verify_signature(SECRET, body, header.replace("v1=", "v1=0"))
    assert not verify_signature(SECRET, body, "garbage")


def test_old_signatures_are_rejected():
    body = b"{}"
    header = sign(SECRET, body, timestamp=int(time.time()) - 3600)
    assert not verify_signature(SECRET, body, header)
    assert verify_signature(SECRET, body, header, tolerance=7200)


def test_the_signature_is_hmac_of_timestamp_dot_body():
    import hashlib
    import hmac

    header = sign(SECRET, b"payload", timestamp=1700000000)
    expected = hmac.new(SECRET.encode(), b"1700000000.payload", hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


@pytest.fixture
def job_with_webhook(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from core.settings import get_settings

    monkeypatch.setenv("AVATAR_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("AVATAR_WEBHOOK_MAX_ATTEMPTS", "3")
    get_settings.cache_clear()
    migrate()
    receiver = WebhookReceiver(fail_first=1)

    def make(status: str = "failed") -> str:
        job = Job(
            id=f"job{time.monotonic_ns()}",
            owner="anonymous",
            status=status,
            image_key="uploads/x.png",
            options={},
            webhook_url=receiver.url,
            webhook_state="pending",
            error_code="no_face",
            error_message="No face found.",
            next_resource="cpu",
            segments=0,
            attempts=1,
            progress=0.0,
            timings={},
            warnings=[],
            heartbeat_at=utcnow(),
            finished_at=utcnow(),
        )
        with session_scope() as session:
            session.add(job)
        return job.id

    yield make, receiver
    receiver.close()


def test_delivery_retries_and_records_every_attempt(job_with_webhook):
    make, receiver = job_with_webhook
    job_id = make()
    first = deliver(job_id)
    assert not first.delivered and not first.final  # the receiver answered 500
    second = deliver(job_id)
    assert second.delivered and second.final and second.number == 2
    assert deliver(job_id).number == 0  # nothing owed any more

    headers, body = receiver.calls[-1]
    assert verify_signature(SECRET, body, headers[SIGNATURE_HEADER])
    assert json.loads(body) == {
        "job_id": job_id,
        "status": "failed",
        "result_url": None,
        "error": {"code": "no_face", "message": "No face found."},
    }
    with session_scope() as session:
        attempts = session.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)).all()
        assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 204)]
        assert attempts[0].error.startswith("HTTP 500")
        assert session.get(Job, job_id).webhook_state == "delivered"


def test_delivery_gives_up_after_max_attempts(job_with_webhook):
    make, receiver = job_with_webhook
    receiver.fail_first = 100
    job_id = make()
    assert [deliver(job_id).final for _ in range(3)] == [False, False, True]
    with session_scope() as session:
        assert session.get(Job, job_id).webhook_state == "failed"


def test_backoff_doubles():
    assert [retry_delay(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
