"""Object storage for artifacts, addressed by key ("jobs/<id>/output.mp4").

`file://DIR` (default) keeps objects as plain files; `s3://BUCKET[/prefix]` uses an S3-compatible server.
Nodes work on local files: `fetch(key)` gives a local path, `store(key, path)` uploads one.
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from core.keys import check_key
from core.settings import get_settings


class Storage(Protocol):
    url: str

    def store(self, key: str, path: Path) -> str: ...
    def fetch(self, key: str) -> Path: ...  # a local file (the object itself, or a cached download)
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...  # every object under prefix/
    def presigned_url(self, key: str, expires: int = 3600) -> str | None: ...


class LocalStorage:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = f"file://{self.root.as_posix()}"

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def store(self, key: str, path: Path) -> str:
        dest = self.path(key)
        if Path(path).resolve() != dest:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            shutil.copyfile(path, tmp)
            tmp.replace(dest)
        return key

    def fetch(self, key: str) -> Path:
        path = self.path(key)
        if not path.exists():
            raise FileNotFoundError(f"no object {key!r} in {self.url}")
        return path

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def presigned_url(self, key: str, expires: int = 3600) -> str | None:
        return None  # served by the API itself

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix.rstrip("/")), ignore_errors=True)


def open_storage(url: str | None = None) -> Storage:
    return _storage_for(url or get_settings().resolved_storage_url)


@cache
def _storage_for(url: str) -> Storage:
    """One client per storage URL and process (an S3 client is costly to build, and thread-safe)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStorage(Path(parsed.netloc + parsed.path) if parsed.netloc else Path(parsed.path))
    if parsed.scheme == "s3":
        from core.s3 import S3Storage

        return S3Storage(url)
    raise ValueError(f"AVATAR_STORAGE_URL must start with file:// or s3://, got {url!r}")


def forget_clients() -> None:
    """Drop the cached storage clients (after a fork: their connections belong to the parent)."""
    _storage_for.cache_clear()
