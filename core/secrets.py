"""The webhook signing secret: AVATAR_WEBHOOK_SECRET, or on one machine a random one kept in the data dir.

There is no default: a secret everyone knows would let anyone forge our signatures. Workers on several
machines must share one, so with a broker configured it has to be set."""

from __future__ import annotations

import logging
import os
import secrets

from core.settings import get_settings

log = logging.getLogger(__name__)
SECRET_FILE = "webhook_secret"


class SecretMissing(RuntimeError):
    """The configuration needs a secret it does not have; the message names the setting."""


def webhook_secret() -> str:
    settings = get_settings()
    if settings.webhook_secret:
        return settings.webhook_secret
    if settings.broker_url:
        raise SecretMissing(
            "set AVATAR_WEBHOOK_SECRET (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`): "
            "with AVATAR_BROKER_URL every API server and worker must sign webhooks with the same secret"
        )
    path = settings.data_dir / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    log.warning("AVATAR_WEBHOOK_SECRET is not set: webhooks are signed with a new random secret in %s", path)
    return path.read_text().strip()


def announce_webhook_secret() -> None:
    """At start-up: fail now if the secret is missing, and say where a generated one lives."""
    webhook_secret()
    if not get_settings().webhook_secret:
        log.info("webhook signing secret: %s", get_settings().data_dir / SECRET_FILE)
