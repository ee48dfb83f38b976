"""Dependencies injected into routes: who is calling (API key -> owner)."""

from __future__ import annotations

from fastapi import Header
from starlette.concurrency import run_in_threadpool

from api.errors import APIError
from api.keys import find_key
from core.db import ANONYMOUS_OWNER
from core.settings import get_settings


def sent_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The API key a request carries (X-API-Key, or Authorization: Bearer), or None."""
    if x_api_key is not None or not authorization:
        return x_api_key
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise APIError(401, "bad_authorization", "Send the key as 'Authorization: Bearer <key>'.")
    return token.strip()


def key_owner(key: str | None) -> str:
    """The owner id a request acts as: the API key's id, or the anonymous owner when keys are optional and
    none was sent. A key that is sent must be valid."""
    if key is None:
        if get_settings().require_api_key:
            raise APIError(
                401,
                "missing_api_key",
                "This server needs an API key: send 'Authorization: Bearer <key>' "
                "(an operator creates one with `avatar keys create NAME`).",
            )
        return ANONYMOUS_OWNER
    row = find_key(key)
    if row is None:
        raise APIError(401, "invalid_api_key", "Unknown API key; check it or ask for a new one.")
    if row.revoked_at is not None:
        raise APIError(403, "revoked_api_key", "This API key was revoked; ask for a new one.")
    return row.id


def current_owner(authorization: str | None = None, x_api_key: str | None = None) -> str:
    """The owner for these credentials, from synchronous code (the WebSocket handshake)."""
    return key_owner(sent_key(authorization, x_api_key))


async def request_owner(
    authorization: str | None = Header(default=None, description="Bearer <API key>"),
    x_api_key: str | None = Header(default=None, description="the API key (alternative to Authorization)"),
) -> str:
    """The routes' dependency. Async: only a key lookup (a database query) goes through the thread pool, so
    an anonymous request does not queue for a thread twice (once here, once for its endpoint)."""
    key = sent_key(authorization, x_api_key)
    return key_owner(None) if key is None else await run_in_threadpool(key_owner, key)
