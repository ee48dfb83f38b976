"""Which jobs the broker still holds a segment message for, so the reconciler re-publishes only lost ones.

Redis only: kombu keeps each queue as a list (newest pushed on the left, one key per priority step) and the
messages workers have taken but not acknowledged in the hash `unacked`, indexed by delivery time in the
sorted set `unacked_index`. Reading is bounded: at most broker_scan_limit messages per list, oldest first
(a job waiting long sits near the old end), in chunks, stopping once every job is found.

A message can move (a worker takes it, Redis restores an unacknowledged one) while it is read; the only harm is
that its job looks lost and gets a duplicate message, which the job's lease drops.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections import defaultdict
from typing import Any

from core.settings import get_settings
from workers.routing import SEGMENT_TASK, queue_for

log = logging.getLogger(__name__)

CHUNK = 500  # messages per LRANGE / HMGET
NOT_A_SEGMENT = ("", "")


def lost_segment_messages(waiting: dict[str, str], reserved_within: float) -> set[str] | None:
    """Of `waiting` (job id -> the resource class it waits for), the jobs with no segment message for that
    class in the broker. A message a worker took more than `reserved_within` seconds ago without claiming
    its job counts as lost (its worker died holding it). Jobs the bounded scan cannot vouch for are left
    out. None when the broker cannot be read this way (not Redis)."""
    from workers.celery_app import app

    with app.connection_for_read() as connection:
        channel = connection.default_channel
        if not hasattr(channel, "unacked_index_key"):  # kombu's Redis channel
            return None
        with channel.conn_or_acquire() as client:
            return _lost(client, channel, waiting, reserved_within)


def _lost(client: Any, channel: Any, waiting: dict[str, str], reserved_within: float) -> set[str]:
    limit = get_settings().broker_scan_limit
    by_queue: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for job_id, resource in waiting.items():
        by_queue[queue_for(resource)].add((job_id, resource))
    found: set[tuple[str, str]] = set()
    unsure: set[tuple[str, str]] = set()  # in a queue longer than the limit, beyond the part read
    # lists before the unacked hash: a message a worker takes meanwhile is then still seen in the hash
    for queue, jobs in by_queue.items():
        keys = dict.fromkeys(channel._q_for_pri(queue, pri) for pri in channel.priority_steps)
        if not all([_scan_list(client, key, jobs, found, limit) for key in keys]):
            unsure |= jobs
    reserved = client.zrangebyscore(channel.unacked_index_key, time.time() - reserved_within, "+inf", 0, limit)
    for start in range(0, len(reserved), CHUNK):
        for raw in client.hmget(channel.unacked_key, reserved[start : start + CHUNK]):
            if raw is not None:
                found.add(_segment_of(json.loads(raw)[0]))
    if unsure - found:
        log.warning(
            "a queue holds more than broker_scan_limit=%d messages: %d waiting job(s) not found in the part read "
            "are re-published once it drains",
            limit,
            len(unsure - found),
        )
    return {job_id for job_id, _ in set(waiting.items()) - found - unsure}


def _scan_list(client: Any, key: str, jobs: set[tuple[str, str]], found: set[tuple[str, str]], limit: int) -> bool:
    """Read `key` from its old end until every job in `jobs` is found; False when the limit stopped it first."""
    length = client.llen(key)
    for start in range(0, min(length, limit), CHUNK):
        stop = min(start + CHUNK, limit)
        for raw in client.lrange(key, -stop, -start - 1):
            found.add(_segment_of(json.loads(raw)))
        if jobs <= found:
            return True
    return length <= limit


def _segment_of(message: dict[str, Any]) -> tuple[str, str]:
    """(job id, resource) of a run_segment message (Celery protocol 2: body [args, kwargs, embed])."""
    if (message.get("headers") or {}).get("task") != SEGMENT_TASK:
        return NOT_A_SEGMENT
    try:
        body = message["body"]
        if (message.get("properties") or {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return str(args[0]), str(args[1])
    except (KeyError, IndexError, TypeError, ValueError):
        return NOT_A_SEGMENT
