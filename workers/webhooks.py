"""Webhooks: on a job's terminal state, POST {job_id, status, result_url, error} to its webhook_url.

Signed like Stripe's: header `X-Avatar-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
Receivers check it with `verify_signature` (or the same three lines in their own language). Every attempt is
stored in webhook_deliveries; failed attempts are retried with exponential backoff by the caller. A URL that
webhook_guard refuses (a non-public address) is a recorded, final attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import func, select

from core.db import Job, WebhookDelivery, session_scope
from core.metrics import WEBHOOK_ATTEMPTS
from core.secrets import webhook_secret
from core.settings import get_settings
from workers.webhook_guard import WebhookURLError, check_webhook_url

SIGNATURE_HEADER = "X-Avatar-Signature"
DEFAULT_TOLERANCE = 300  # seconds a signature stays acceptable (replay window)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify_signature(
    secret: str, body: bytes, header: str, tolerance: int = DEFAULT_TOLERANCE, now: float | None = None
) -> bool:
    """True when `header` is a valid X-Avatar-Signature for the raw request `body`, made within `tolerance`
    seconds. Use the raw bytes as received, before any JSON parsing."""
    try:
        pairs = [item.strip().split("=", 1) for item in header.split(",")]
        t = int(next(value for key, value in pairs if key == "t"))
    except (StopIteration, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = sign(secret, body, t).split("v1=", 1)[1]
    return any(key == "v1" and hmac.compare_digest(expected, value) for key, value in pairs)


def result_url(job: Job) -> str | None:
    if job.status != "succeeded" or not job.output_key:
        return None
    from core.storage import open_storage

    presigned = open_storage().presigned_url(job.output_key, expires=7 * 24 * 3600)
    return presigned or f"{get_settings().api_public_url.rstrip('/')}/api/v1/jobs/{job.id}/result"


def payload(job: Job) -> bytes:
    error = {"code": job.error_code, "message": job.error_message} if job.error_code else None
    body = {"job_id": job.id, "status": job.status, "result_url": result_url(job), "error": error}
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class Attempt:
    number: int
    delivered: bool
    final: bool  # no more retries: delivered, refused, attempts exhausted, or nothing to deliver


def deliver(job_id: str) -> Attempt:
    """Make one delivery attempt for the job's webhook and record it."""
    settings = get_settings()
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None or job.webhook_url is None or job.webhook_state != "pending":
            return Attempt(0, False, True)
        number = (session.scalar(select(func.count()).where(WebhookDelivery.job_id == job_id)) or 0) + 1
    body = payload(job)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(webhook_secret(), body),
        "User-Agent": "avatar-webhooks/1",
    }
    status_code, error, refused = None, None, False
    start = time.perf_counter()
    try:
        target = check_webhook_url(job.webhook_url)  # again: the host may resolve elsewhere by now
        with httpx.Client(timeout=settings.webhook_timeout_seconds) as client:  # redirects are not followed
            response = client.post(
                target.url, content=body, headers=headers | target.headers, extensions=target.extensions
            )
        status_code = response.status_code
        if not response.is_success:
            error = f"HTTP {status_code}: {response.text[:200]}"
    except WebhookURLError as exc:
        error, refused = f"refused: {exc.message}", exc.final
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    delivered = error is None
    final = delivered or refused or number >= settings.webhook_max_attempts
    with session_scope() as session:
        session.add(
            WebhookDelivery(
                job_id=job_id,
                url=job.webhook_url,
                attempt=number,
                status_code=status_code,
                error=error,
                duration_ms=round((time.perf_counter() - start) * 1000, 2),
            )
        )
        if final:
            session.get(Job, job_id).webhook_state = "delivered" if delivered else "failed"
    WEBHOOK_ATTEMPTS.labels("delivered" if delivered else "refused" if refused else "error").inc()
    return Attempt(number, delivered, final)


def retry_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): backoff, 2x backoff, 4x backoff..."""
    return get_settings().webhook_backoff_seconds * 2 ** (attempt - 1)


def longest_wait() -> float:
    """Seconds a pending webhook may go without an attempt while its retries are on schedule (twice the longest
    backoff plus a timed-out attempt, for a slow queue)."""
    settings = get_settings()
    return 2 * (retry_delay(max(1, settings.webhook_max_attempts - 1)) + settings.webhook_timeout_seconds)
