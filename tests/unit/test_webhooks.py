"""Webhook signatures and delivery: signed bodies verify, tampering fails, every attempt is recorded, and
webhooks go only to public addresses unless an operator allows more (checked at submit and at delivery)."""

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
from core.settings import get_settings  # noqa: E402
from workers import webhook_guard  # noqa: E402
from workers.webhook_guard import NOT_ALLOWED, UNRESOLVED, WebhookURLError, address_class, check_webhook_url  # noqa: E402
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


def configure(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(f"AVATAR_{name.upper()}", value)
    get_settings.cache_clear()


@pytest.fixture
def job_with_webhook(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    # the receiver listens on 127.0.0.1, which webhooks may reach only when an operator allows it
    configure(monkeypatch, webhook_secret=SECRET, webhook_max_attempts="3", webhook_allowed_hosts='["127.0.0.1"]')
    migrate()
    receiver = WebhookReceiver(fail_first=1)

    def make(status: str = "failed", url: str = receiver.url) -> str:
        job = Job(
            id=f"job{time.monotonic_ns()}",
            owner="anonymous",
            status=status,
            image_key="uploads/x.png",
            options={},
            webhook_url=url,
            webhook_state="pending",
            error_code="no_face",
            error_message="No face found.",
            attempts=1,
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


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "non-public"),
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_classes(address: str, kind: str | None):
    import ipaddress

    assert address_class(ipaddress.ip_address(address)) == kind


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> dict[str, list[str]]:
    """Host names resolved from this dict instead of the network; IP literals resolve to themselves."""
    import ipaddress

    names: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            if host not in names:
                raise OSError(f"unknown host {host}") from None
            return names[host]

    monkeypatch.setattr(webhook_guard, "resolve_host", resolve)
    return names


def refusal(url: str) -> WebhookURLError:
    with pytest.raises(WebhookURLError) as caught:
        check_webhook_url(url)
    return caught.value


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"),
        ("http://[::1]/hook", "::1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://10.0.0.8/hook", "private"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://0.0.0.0:8000/hook", "unspecified"),
        ("http://internal.example/hook", "internal.example resolves to 10.9.8.7, which is a private address"),
        ("http://mixed.example/hook", "mixed.example resolves to 192.168.0.5, which is a private address"),
    ],
)
def test_non_public_webhook_urls_are_refused(dns: dict, url: str, fragment: str):
    dns.update({"internal.example": ["10.9.8.7"], "mixed.example": ["93.184.215.14", "192.168.0.5"]})
    error = refusal(url)
    assert (error.code, error.status_code, error.final) == (NOT_ALLOWED, 422, True)
    assert fragment in error.message
    assert "AVATAR_WEBHOOK_ALLOW_PRIVATE=true" in error.message and "AVATAR_WEBHOOK_ALLOWED_HOSTS" in error.message


def test_localhost_is_refused_after_a_real_lookup(data_dir: Path):
    assert "localhost resolves to" in refusal("http://localhost:9000/hook").message


def test_only_http_and_https_with_a_host(dns: dict):
    for url in ("ftp://93.184.215.14/x", "file:///etc/passwd", "gopher://93.184.215.14/"):
        assert "http:// or https://" in refusal(url).message, url


def test_a_host_that_does_not_resolve_is_not_final(dns: dict):
    error = refusal("https://no-such-host.example/hook")
    assert (error.code, error.final) == (UNRESOLVED, False) and "does not resolve" in error.message


def test_a_public_host_is_allowed_and_pinned_to_its_checked_address(dns: dict):
    dns["hooks.example.com"] = ["93.184.215.14"]
    target = check_webhook_url("https://hooks.example.com:8443/hook?x=1")
    assert str(target.url) == "https://93.184.215.14:8443/hook?x=1"
    assert target.headers == {"Host": "hooks.example.com:8443"}
    assert target.extensions == {"sni_hostname": "hooks.example.com"}  # TLS still checks the name
    assert str(check_webhook_url("http://[2606:4700:4700::1111]/h").url) == "http://[2606:4700:4700::1111]/h"


def test_settings_lift_the_block(dns: dict, monkeypatch: pytest.MonkeyPatch):
    dns["hooks.internal"] = ["10.9.9.9"]
    configure(monkeypatch, webhook_allowed_hosts='["hooks.internal", "10.20.0.0/16", "fd00::/8"]')
    assert str(check_webhook_url("http://hooks.internal/h").url) == "http://10.9.9.9/h"
    check_webhook_url("http://10.20.3.4/h")
    check_webhook_url("http://[fd00::5]/h")
    assert "private" in refusal("http://10.21.0.1/h").message  # outside the listed network
    assert "loopback" in refusal("http://127.0.0.1/h").message
    configure(monkeypatch, webhook_allow_private="true")
    for url in ("http://127.0.0.1:8000/h", "http://169.254.169.254/", "http://10.21.0.1/h"):
        check_webhook_url(url)
    assert "http:// or https://" in refusal("ftp://10.21.0.1/h").message  # the scheme rule stays


def test_delivery_checks_the_url_again(job_with_webhook, monkeypatch: pytest.MonkeyPatch):
    make, receiver = job_with_webhook
    job_id = make()  # accepted while 127.0.0.1 was allowed
    configure(monkeypatch, webhook_allowed_hosts="[]")
    attempt = deliver(job_id)
    assert (attempt.number, attempt.delivered, attempt.final) == (1, False, True)  # refused is final
    assert receiver.calls == []
    with session_scope() as session:
        (record,) = session.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)).all()
        assert record.status_code is None and record.error.startswith("refused: webhook_url: 127.0.0.1 is a loopback")
        assert session.get(Job, job_id).webhook_state == "failed"
    assert deliver(job_id).number == 0  # nothing owed any more


def test_delivery_refuses_a_name_that_now_resolves_inside(job_with_webhook, dns: dict, monkeypatch):
    make, receiver = job_with_webhook
    configure(monkeypatch, webhook_allowed_hosts="[]")
    port = receiver.url.split(":")[2].split("/")[0]
    url = f"http://hooks.example.com:{port}/hook"
    dns["hooks.example.com"] = ["93.184.215.14"]
    check_webhook_url(url)  # public when the job was submitted
    job_id = make(url=url)
    dns["hooks.example.com"] = ["127.0.0.1"]  # rebound to loopback since
    attempt = deliver(job_id)
    assert attempt.final and not attempt.delivered and receiver.calls == []


def test_delivery_connects_to_the_checked_address(job_with_webhook, dns: dict, monkeypatch: pytest.MonkeyPatch):
    make, receiver = job_with_webhook
    receiver.fail_first = 0
    # hooks.example.test exists only in this resolver: the POST reaches the receiver without another lookup
    dns["hooks.example.test"] = ["127.0.0.1"]
    configure(monkeypatch, webhook_allowed_hosts='["hooks.example.test"]')
    port = receiver.url.split(":")[2].split("/")[0]
    job_id = make(url=f"http://hooks.example.test:{port}/hook")
    assert deliver(job_id).delivered
    headers, _ = receiver.calls[-1]
    assert headers["Host"] == f"hooks.example.test:{port}"


def test_a_host_that_stops_resolving_is_retried(job_with_webhook, dns: dict):
    make, receiver = job_with_webhook
    job_id = make(url="http://gone.example/hook")
    attempt = deliver(job_id)
    assert not attempt.final and not attempt.delivered  # DNS may come back: the next attempt retries
    with session_scope() as session:
        (record,) = session.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)).all()
        assert "does not resolve" in record.error
