"""One BLAS thread while live streams run.

A stream multiplies small matrices a few times per frame. With BLAS spreading each product over every core
while OpenCV's threads warp the frame, the two pools wait on each other and a frame took about 5x longer on
two cores. The limit is process-wide, so it is counted: the first stream sets it, the last one restores it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

_lock = threading.Lock()
_users = 0
_limit: threadpool_limits | None = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    global _users, _limit
    with _lock:
        if _users == 0:
            _limit = threadpool_limits(limits=1, user_api="blas")
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _limit is not None:
                _limit.restore_original_limits()
                _limit = None
