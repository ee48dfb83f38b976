"""Logging setup shared by the API, workers and CLI: plain text for people, JSON lines for collectors.

Every line is redacted before it is written: API keys, bearer tokens, secrets in query strings (uvicorn's
access log prints them), passwords in URLs, and the configured secrets themselves."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from typing import Any

from core.settings import get_settings

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[REDACTED]"
_SECRET_PARAMS = (
    "api_key|apikey|api-key|token|access_token|secret|password|passwd|signature"
    "|x-amz-signature|x-amz-credential|x-amz-security-token"
)
_PATTERNS = (
    (re.compile(rf"(?i)\b({_SECRET_PARAMS})=[^&\s\"'<>]+"), rf"\1={REDACTED}"),  # query strings, forms
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),  # Authorization values
    (re.compile(r"\bav_[A-Za-z0-9_-]{16,}"), f"av_{REDACTED}"),  # our API keys, wherever they appear
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+@"), rf"\1{REDACTED}@"),  # user:password@ in URLs
)
_SERVER_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "celery")


def _configured_secrets() -> list[str]:
    settings = get_settings()
    values = (
        settings.webhook_secret,
        settings.metrics_token,
        settings.mistral_api_key,
        settings.llm_api_key,
        os.environ.get("AWS_SECRET_ACCESS_KEY"),
    )
    return [v for v in values if v and len(v) >= 6]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in _configured_secrets():
        text = text.replace(secret, REDACTED)
    return text


def _redact_arg(arg: Any) -> Any:
    if isinstance(arg, str):
        return redact(arg)
    if arg is None or isinstance(arg, int | float):
        return arg  # keeps %d and %f working
    text = str(arg)
    clean = redact(text)
    return arg if clean == text else clean


class RedactingFilter(logging.Filter):
    """Rewrites a record's message, arguments and traceback text with secrets replaced (idempotent, so
    each handler may run it)."""

    _tracebacks = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self._tracebacks.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def _add_filter(handler: logging.Handler) -> None:
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())


def redact_server_logs() -> None:
    """Redact every handler the server's loggers write through (uvicorn configures its own)."""
    for name in _SERVER_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            _add_filter(handler)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ("job_id", "trace_id", "node", "queue"):
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info or record.exc_text:
            entry["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(level: str | None = None, fmt: str | None = None) -> None:
    from core.tracing import JobLogFilter

    settings = get_settings()
    handler = logging.StreamHandler()
    handler.addFilter(JobLogFilter())
    if (fmt or settings.log_format) == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    _add_filter(handler)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or settings.log_level).upper())
