"""The FastAPI application (OpenAPI at /docs). `avatar serve` runs it with uvicorn.

Without a broker (embedded mode) jobs run in a worker pool inside this process, and a reconciler thread
re-enqueues jobs an earlier run of the server left unfinished.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from api import errors
from api.limits import HTTPMiddleware, RequestGuard
from api.routes import generate, jobs, status, stream, uploads
from api.web import mount_web
from core.db import migrate
from core.logging import redact_server_logs
from core.metrics import HTTP_LATENCY, HTTP_REQUESTS, register_job_collector
from core.secrets import announce_webhook_secret
from core.settings import get_settings
from workers.dispatch import shutdown, start

UPLOAD_FORM_LIMITS = {"max_files": 1, "max_fields": 8}


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    redact_server_logs()
    announce_webhook_secret()  # in distributed mode, refuses to start without AVATAR_WEBHOOK_SECRET
    if settings.auto_migrate:
        migrate()
    if settings.resolved_storage_url.startswith("s3://"):
        from core.s3 import S3Storage

        S3Storage(settings.resolved_storage_url).ensure_bucket()
    start()
    yield
    shutdown()


def create_app() -> FastAPI:
    redact_server_logs()
    app = FastAPI(
        title="Avatar System Orchestrator",
        version="0.1.0",
        description="One face photo + speech in, a lip-synced talking-head MP4 out. See docs/jobs.md.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(uploads.router, form_limits=UPLOAD_FORM_LIMITS)
    for module in (jobs, generate, status, stream):
        app.include_router(module.router)
    mount_web(app)  # last: its mount at `/` would shadow routes added after it
    register_job_collector()
    app.add_middleware(RequestGuard)
    app.add_middleware(Observe)
    return app


class Observe(HTTPMiddleware):
    """Records per-route latency and counts."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
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
