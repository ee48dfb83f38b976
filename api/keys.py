"""API keys: created once (the secret is printed, never stored), kept as SHA-256 hashes, revocable."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from core.db import ApiKey, session_scope, utcnow

KEY_PREFIX = "av_"


def hash_key(key: str) -> str:
    # keys are 256-bit random tokens, so a fast hash is enough (nothing to brute-force)
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(name: str) -> tuple[ApiKey, str]:
    """Returns the stored row and the secret key, which is shown only this once."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(id=secrets.token_hex(8), name=name, prefix=key[:10], key_hash=hash_key(key), created_at=utcnow())
    with session_scope() as session:
        session.add(row)
    return row, key


def list_keys() -> list[ApiKey]:
    with session_scope() as session:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_key(key_id: str) -> bool:
    with session_scope() as session:
        row = session.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        return True


def find_key(key: str) -> ApiKey | None:
    with session_scope() as session:
        return session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
