"""Refuse oversized or stalled requests at the door, before they cost memory, disk or event-loop time
(every limit, its setting and what a client gets: docs/limits.md).

Bodies are counted as they arrive, declared length or not (a chunked upload is cut off at the limit, not after
it has been spooled to disk); JSON bodies are parsed with a key-count limit, before validation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import RequestRefused, error_response
from core.settings import get_settings


def parse_json(body: bytes, max_keys: int) -> Any:
    """json.loads that stops at the first object that brings the keys seen over `max_keys`."""
    seen = 0

    def count(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal seen
        seen += len(pairs)
        if seen > max_keys:
            raise RequestRefused(
                413, "too_many_keys", f"The JSON body has more than {max_keys} keys; send only the documented fields."
            )
        return dict(pairs)

    return json.loads(body, object_pairs_hook=count)


class _CountedJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body(), get_settings().max_json_keys)
        return self._json


class LimitedRoute(APIRoute):
    """A route whose JSON body is parsed with a key-count limit."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def counted(request: Request) -> Response:
            return await handler(_CountedJSONRequest(request.scope, request.receive))

        return counted


UPLOAD_PATH = "/api/v1/upload/"
MULTIPART_OVERHEAD = 64 * 1024  # form boundaries and part headers around an uploaded file


def body_limit(path: str) -> tuple[int, str]:
    """The most bytes a request body to `path` may have, and the message when it has more."""
    settings = get_settings()
    if path.startswith(UPLOAD_PATH):
        limit = settings.max_upload_bytes
        return limit + MULTIPART_OVERHEAD, f"The file is larger than the {_size(limit)} limit; send a smaller one."
    limit = settings.max_json_bytes
    return limit, f"The request body is larger than the {_size(limit)} limit for {path}."


def _size(n: int) -> str:
    return f"{n / 2**20:.3g} MB" if n >= 2**20 else f"{n / 1024:.3g} KB"


def headers_too_large() -> str:
    limit = get_settings().max_header_bytes // 1024
    return f"The request line and headers exceed {limit} KB; send shorter headers or cookies."


class HTTPMiddleware:
    """A plain ASGI middleware (no extra task or response stream per request) that sees HTTP requests only;
    WebSocket and lifespan messages pass through untouched."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class RequestGuard(HTTPMiddleware):
    """Around every HTTP request: 431 for an oversized request head, 413 for a body over its route's limit (at
    once when the declared length says so, else as soon as the count passes it), 408 for a body that stops
    arriving for `body_timeout_seconds`."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = get_settings()
        head = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        head += sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        if head > settings.max_header_bytes:
            await error_response(431, "headers_too_large", headers_too_large())(scope, receive, send)
            return
        limit, too_large = body_limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await error_response(413, "too_large", too_large)(scope, receive, send)
            return
        timeout, received, body_done = settings.body_timeout_seconds, 0, False

        async def guarded_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # a response listening for the client's disconnect waits as long as it likes
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                raise RequestRefused(
                    408, "body_timeout", f"No part of the request body arrived for {timeout:g} s; send it again."
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestRefused(413, "too_large", too_large)
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, guarded_receive, send)
