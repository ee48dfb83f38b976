"""One retry policy for a pipeline segment, used by the Celery task and the embedded pool alike.

Errors have classes:
- input (core.errors.InputError: unreadable, no face, silent, too long, bad geometry...): the job fails at once
  with the error's code; running it again cannot help.
- infrastructure (the database, broker or object store unreachable or timing out): retried with backoff,
  doubling from task_retry_backoff up to RETRY_DELAY_CAP, without limit, so a job stranded by an outage resumes
  within RETRY_DELAY_CAP of the service's return and is never failed for it.
- anything else is a bug, or a bad input that no check caught: the job fails at once as internal_error
  rather than holding a worker through retries that end the same way.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from functools import cache

from core.errors import InputError
from core.settings import get_settings

RETRY_DELAY_CAP = 30.0  # seconds: the longest wait between two tries while a service is down
S3_TRANSIENT = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "RequestTimeTooSkewed"}


@dataclass(frozen=True)
class Verdict:
    retry: bool
    delay: float = 0.0  # seconds before the next try
    code: str = ""  # the job's error code when it fails
    message: str = ""


@cache
def _infrastructure_types() -> tuple[type[BaseException], ...]:
    import botocore.exceptions
    import kombu.exceptions
    import psycopg
    import redis.exceptions
    import sqlalchemy.exc

    return (
        ConnectionError,
        TimeoutError,
        socket.gaierror,
        sqlalchemy.exc.OperationalError,  # connection refused or dropped, server shutting down, database locked
        sqlalchemy.exc.InterfaceError,
        sqlalchemy.exc.DisconnectionError,
        sqlalchemy.exc.TimeoutError,  # no pooled connection in time
        psycopg.OperationalError,  # the checkpointer's own connection (psycopg_pool.PoolTimeout included)
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        kombu.exceptions.OperationalError,
        botocore.exceptions.ConnectionError,
        botocore.exceptions.HTTPClientError,
    )


def is_infrastructure(exc: BaseException) -> bool:
    """True when `exc`, or an error it was raised from, says a service is unreachable or overloaded."""
    from botocore.exceptions import ClientError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _infrastructure_types()):
            return True
        if isinstance(current, ClientError):
            error = current.response.get("Error") or {}
            status = (current.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
            if error.get("Code") in S3_TRANSIENT or status >= 500:
                return True
        current = current.__cause__ or current.__context__
    return False


def verdict(exc: BaseException, retries: int) -> Verdict:
    """What to do after a segment raised `exc`, `retries` retries into the job's current run."""
    if isinstance(exc, InputError):
        return Verdict(False, code=exc.code, message=exc.message)
    if is_infrastructure(exc):
        delay = min(get_settings().task_retry_backoff * 2 ** min(retries, 16), RETRY_DELAY_CAP)
        return Verdict(True, delay=delay)
    return Verdict(False, code="internal_error", message=f"{type(exc).__name__}: {exc}")
