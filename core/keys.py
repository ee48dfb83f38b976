"""Storage keys ("jobs/<id>/output.mp4"): relative, no way up, the same rule for every store."""

from __future__ import annotations

from pathlib import Path


def check_key(key: str) -> str:
    parts = Path(key).parts
    if not key or key.startswith("/") or ".." in parts:
        raise ValueError(f"invalid storage key {key!r}")
    return key
