"""What each gpu worker said about its device: kept in the broker's Redis, one key per worker that expires
unless the worker refreshes it, so the list holds only live workers.

Written by `avatar worker --queues gpu` (workers.device_report); read by the planner (`auto` takes SadTalker or
GFPGAN only when a gpu worker has CUDA) and by GET /api/v1/status. Other brokers than Redis keep no list.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from core.settings import get_settings

KEY_PREFIX = "avatar:gpu-worker:"
REFRESH_SECONDS = 15.0
TTL_SECONDS = 60  # a worker that stopped refreshing (killed, or cut off) leaves the list after this


@dataclass(frozen=True)
class GpuWorker:
    name: str  # Celery node name, avatar-gpu-<pid>@<host>
    cuda: bool
    device: str  # "CUDA: 1 x NVIDIA H200 (torch ...)" or why there is none
    reported_at: float  # unix time of the last refresh


def _client() -> Any | None:
    """A Redis client on the broker's database, or None when the broker is not Redis."""
    url = get_settings().broker_url or ""
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    return redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)


def publish(name: str, cuda: bool, device: str) -> None:
    client = _client()
    if client is not None:
        with client:
            record = GpuWorker(name, cuda, device, time.time())
            client.set(KEY_PREFIX + name, json.dumps(asdict(record)), ex=TTL_SECONDS)


def withdraw(name: str) -> None:
    client = _client()
    if client is not None:
        with client:
            client.delete(KEY_PREFIX + name)


def live() -> list[GpuWorker] | None:
    """The gpu workers that reported within TTL_SECONDS, by name; None when the broker is not Redis.
    Raises redis's errors when Redis does not answer."""
    client = _client()
    if client is None:
        return None
    with client:
        keys = sorted(client.scan_iter(match=KEY_PREFIX + "*", count=200))
        values = client.mget(keys) if keys else []
    return [GpuWorker(**json.loads(v)) for v in values if v is not None]
