"""Secrets stay secret: no default webhook secret, a generated one kept 0600, keys redacted from every log line."""

from __future__ import annotations

import io
import logging
import stat
from pathlib import Path

import pytest

KEY = "av_" + "Zx9" * 14  # the shape of `avatar keys create` output


def test_without_a_setting_the_webhook_secret_is_generated_once_and_kept_private(
    data_dir: Path, caplog: pytest.LogCaptureFixture
):
    from core.secrets import SECRET_FILE, webhook_secret

    with caplog.at_level(logging.WARNING):
        first = webhook_secret()
    path = data_dir / SECRET_FILE
    assert str(path) in caplog.text  # the operator is told where it is
    assert len(first) == 64 and first != "change-me"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert webhook_secret() == first == path.read_text()


def test_distributed_mode_needs_the_webhook_secret(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.secrets import SecretMissing, webhook_secret
    from core.settings import get_settings

    monkeypatch.setenv("AVATAR_BROKER_URL", "memory://")
    get_settings.cache_clear()
    with pytest.raises(SecretMissing, match="AVATAR_WEBHOOK_SECRET"), TestClient(create_app()):
        pass  # the server refuses to start
    assert not (data_dir / "webhook_secret").exists()
    monkeypatch.setenv("AVATAR_WEBHOOK_SECRET", "whsec-configured")
    get_settings.cache_clear()
    assert webhook_secret() == "whsec-configured"


def _logged(logger: str, msg: str, *args: object, exc: BaseException | None = None) -> str:
    from core.logging import RedactingFilter

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(RedactingFilter())
    log = logging.getLogger(logger)
    log.addHandler(handler)
    log.propagate = False
    try:
        log.error(msg, *args, exc_info=(type(exc), exc, exc.__traceback__) if exc else None)
    finally:
        log.removeHandler(handler)
        log.propagate = True
    return out.getvalue()


def test_keys_and_secrets_are_redacted_from_log_lines(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from core.settings import get_settings

    monkeypatch.setenv("AVATAR_WEBHOOK_SECRET", "whsec-very-private")
    get_settings.cache_clear()
    # uvicorn's access log: (client, method, path with query, http version, status)
    access = _logged(
        "uvicorn.access", '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/ws?api_key={KEY}&x=1", "1.1", 101
    )
    assert KEY not in access and "api_key=[REDACTED]&x=1" in access and " 101" in access
    lines = [
        _logged("avatar", "sent Authorization: Bearer %s", KEY),
        _logged("avatar", "key %s in a message", KEY),
        _logged("avatar", "connect to %s", "postgresql://avatar:hunter2pw@db:5432/avatar"),
        _logged("avatar", "signing with %s", "whsec-very-private"),
        _logged("avatar", "presigned %s", "https://s3/x?X-Amz-Credential=AKID%2F1&X-Amz-Signature=deadbeef"),
        _logged("avatar", "failed", exc=ValueError(f"bad key {KEY}")),
    ]
    for line in lines:
        assert KEY not in line and "hunter2pw" not in line and "whsec-very-private" not in line, line
        assert "deadbeef" not in line and "[REDACTED]" in line, line
    assert "postgresql://avatar:[REDACTED]@db:5432/avatar" in lines[2]
    assert "ValueError: bad key av_[REDACTED]" in lines[-1]


def test_the_server_redacts_its_access_log(data_dir: Path, capfd: pytest.CaptureFixture):
    """The running app adds the filter to uvicorn's own handlers (uvicorn configures them before loading us)."""
    import logging.config

    from uvicorn.config import LOGGING_CONFIG

    from api.app import create_app

    logging.config.dictConfig(LOGGING_CONFIG)
    try:
        create_app()
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/api/v1/jobs?api_key={KEY}", "1.1", 200
        )
    finally:
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
    logged = capfd.readouterr()
    assert "/api/v1/jobs?api_key=[REDACTED]" in logged.out + logged.err and KEY not in logged.out + logged.err
