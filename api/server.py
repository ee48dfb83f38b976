"""The HTTP protocol `avatar serve` runs: uvicorn's httptools protocol with a cap on the request head's size and a
deadline for its arrival.

httptools hands a header to uvicorn only once it is complete, so a client sending a 300 MB header has it held
in memory before any ASGI code sees it. This protocol counts the bytes of each request head as they arrive
and, past the cap, answers 431 and closes the connection. Heads over AVATAR_MAX_HEADER_BYTES but under the cap
get the same answer from api.limits.RequestGuard (which works under any server).

uvicorn bounds only the idle time between requests (timeout_keep_alive, reset by every byte received): a client
that connects and sends nothing, or sends its head a byte at a time, held a connection for ever. Here the head
must be complete within AVATAR_HEADER_TIMEOUT_SECONDS of the connection's start (or of the next request's first
byte), else the connection is closed (after a 408 when part of the head had come). The body's pace is
RequestGuard's (AVATAR_BODY_TIMEOUT_SECONDS)."""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.limits import headers_too_large
from core.settings import get_settings

READ_SLACK = 256 * 1024  # one read (asyncio reads up to 256 KiB) may hold the start of a head uncounted
LINGER_BYTES, LINGER_SECONDS = 4 * 2**20, 2.0  # read on after the 431 so the client sees it, not a reset


def head_cap() -> int:
    return get_settings().max_header_bytes + READ_SLACK


def head_timeout_message() -> str:
    timeout = get_settings().header_timeout_seconds
    return f"The request line and headers did not all arrive within {timeout:g} s; send the request again."


def error_head(status: bytes, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 error response with the API's JSON error body, closing the connection."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
    return head % (status, len(body)) + body


class BoundedHeadProtocol(HttpToolsProtocol):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._head_bytes = 0
        self._in_head = True  # from a message's start (or the connection's) to the end of its headers
        self._discarded: int | None = None  # bytes read after refusing the request
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

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
        self._disarm_head_deadline()
        super().on_headers_complete()

    def on_message_begin(self) -> None:
        self._in_head = True
        self._arm_head_deadline()
        super().on_message_begin()

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is None:  # the first request's head counts from the connection's start
            timeout = get_settings().header_timeout_seconds
            self._head_deadline = self.loop.call_later(timeout, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing() or self._discarded is not None:
            return
        # a connection that sent nothing is closed without an answer, as an idle kept-alive one is: a client that
        # opened it ahead of use (browsers do) would take a 408 there for the answer to its next request
        started = self._head_bytes > 0
        if started and (self.cycle is None or self.cycle.response_complete):  # not inside another response
            self.transport.write(error_head(b"408 Request Timeout", "header_timeout", head_timeout_message()))
        self.transport.close()

    def _refuse(self) -> None:
        self._disarm_head_deadline()
        status = b"431 Request Header Fields Too Large"
        self.transport.write(error_head(status, "headers_too_large", headers_too_large()))
        self._discarded = 0
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
