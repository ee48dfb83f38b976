"""The FastAPI application (OpenAPI at /docs). `avatar serve` runs it with uvicorn.

Without a broker (embedded mode) jobs run in a worker pool inside this process, and a reconciler thread
re-enqueues jobs an earlier run of the server left unfinished.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.routes import generate, jobs, status, stream, uploads
from api.web import mount_web
from core.db import migrate
from core.metrics import HTTP_LATENCY, HTTP_REQUESTS, register_job_collector
from core.settings import get_settings
from workers.dispatch import shutdown, start

MULTIPART_OVERHEAD = 64 * 1024  # form boundaries and headers around an uploaded file


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    if settings.auto_migrate:
        migrate()
    if settings.resolved_storage_url.startswith("s3://"):
        from core.s3 import S3Storage

        S3Storage(settings.resolved_storage_url).ensure_bucket()
    start()
    yield
    shutdown()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Avatar System Orchestrator",
        version="0.1.0",
        description="One face photo + speech in, a lip-synced talking-head MP4 out. See docs/jobs.md.",
        lifespan=lifespan,
    )
    errors.install(app)
    for module in (uploads, jobs, generate, status, stream):
        app.include_router(module.router)
    mount_web(app)  # last: its mount at `/` would shadow routes added after it
    register_job_collector()
    app.add_middleware(Observe)
    return app


class Observe:
    """Refuses uploads whose Content-Length is over the limit before reading them, and records per-route
    latency and counts. A plain ASGI middleware: no extra task and response stream per request."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = get_settings().max_upload_bytes
        length = dict(scope["headers"]).get(b"content-length", b"")
        if scope["path"].startswith("/api/v1/upload") and length.isdigit() and int(length) > limit + MULTIPART_OVERHEAD:
            too_large = f"The file is larger than the {limit // 2**20} MB limit."
            await errors.error_response(413, "too_large", too_large)(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            HTTP_LATENCY.labels(scope["method"], path).observe(time.perf_counter() - start)
            HTTP_REQUESTS.labels(scope["method"], path, str(status)).inc()


app = create_app()
