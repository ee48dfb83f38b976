"""Dependencies injected into routes: who is calling (API key -> owner)."""

from __future__ import annotations

from fastapi import Header

from api.errors import APIError
from api.keys import find_key
from core.db import ANONYMOUS_OWNER
from core.settings import get_settings


def current_owner(
    authorization: str | None = Header(default=None, description="Bearer <API key>"),
    x_api_key: str | None = Header(default=None, description="the API key (alternative to Authorization)"),
) -> str:
    """The owner id requests act as: the API key's id, or the anonymous owner when keys are optional and
    none was sent. A key that is sent must be valid."""
    key = x_api_key
    if key is None and authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise APIError(401, "bad_authorization", "Send the key as 'Authorization: Bearer <key>'.")
        key = token.strip()
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
