"""The HTTP protocol `avatar serve` runs: uvicorn's httptools protocol with a cap on the request head.

httptools hands a header to uvicorn only once it is complete, so a client sending a 300 MB header has it held
in memory before any ASGI code sees it. This protocol counts the bytes of each request head as they arrive
and, past the cap, answers 431 and closes the connection. Heads over AVATAR_MAX_HEADER_BYTES but under the cap
get the same answer from api.limits.RequestGuard (which works under any server)."""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.limits import headers_too_large
from core.settings import get_settings

READ_SLACK = 256 * 1024  # one read (asyncio reads up to 256 KiB) may hold the start of a head uncounted
LINGER_BYTES, LINGER_SECONDS = 4 * 2**20, 2.0  # read on after the 431 so the client sees it, not a reset


def head_cap() -> int:
    return get_settings().max_header_bytes + READ_SLACK


class BoundedHeadProtocol(HttpToolsProtocol):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._head_bytes = 0
        self._in_head = True  # from a message's start (or the connection's) to the end of its headers
        self._discarded: int | None = None  # bytes read after refusing the request

    def data_received(self, data: bytes) -> None:
        if self._discarded is not None:
            self._discarded += len(data)
            if self._discarded > LINGER_BYTES:
                self.transport.close()
            return
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > head_cap():
                self._refuse()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def on_message_begin(self) -> None:
        self._in_head = True
        super().on_message_begin()

    def _refuse(self) -> None:
        body = json.dumps({"error": {"code": "headers_too_large", "message": headers_too_large()}}).encode()
        head = (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        )
        self.transport.write(head + body)
        self._discarded = 0
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
