"""The FastAPI application (OpenAPI at /docs). `avatar serve` runs it with uvicorn.

Without a broker (embedded mode) jobs run in a worker pool inside this process, and a reconciler thread
re-enqueues jobs an earlier run of the server left unfinished.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from api import errors
from api.routes import generate, jobs, status, uploads
from api.web import mount_web
from core.db import migrate
from core.metrics import HTTP_LATENCY, HTTP_REQUESTS, register_job_collector
from core.settings import get_settings
from workers.dispatch import distributed

log = logging.getLogger(__name__)
MULTIPART_OVERHEAD = 64 * 1024  # form boundaries and headers around an uploaded file


def _embedded_reconciler(stop: threading.Event) -> None:
    from workers.reconciler import reconcile

    stall = 0.0  # at start-up nothing of ours is running: every unfinished job was orphaned
    while True:
        try:
            reconcile(stall)
        except Exception:
            log.exception("reconciler pass failed")
        stall = get_settings().job_stall_seconds
        if stop.wait(get_settings().reconcile_interval_seconds):
            return


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    if settings.auto_migrate:
        migrate()
    if settings.resolved_storage_url.startswith("s3://"):
        from core.s3 import S3Storage

        S3Storage(settings.resolved_storage_url).ensure_bucket()
    stop = threading.Event()
    if not distributed():
        threading.Thread(target=_embedded_reconciler, args=(stop,), name="reconciler", daemon=True).start()
    yield
    stop.set()
    if not distributed():
        from workers import local

        local.shutdown()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Avatar System Orchestrator",
        version="0.1.0",
        description="One face photo + speech in, a lip-synced talking-head MP4 out. See docs/jobs.md.",
        lifespan=lifespan,
    )
    errors.install(app)
    for module in (uploads, jobs, generate, status):
        app.include_router(module.router)
    mount_web(app)  # last: its mount at `/` would shadow routes added after it
    register_job_collector()

    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        limit = get_settings().max_upload_bytes + MULTIPART_OVERHEAD
        if request.url.path.startswith("/api/v1/upload") and length and length.isdigit() and int(length) > limit:
            return errors.error_response(
                413,
                "too_large",
                f"The file is larger than the {get_settings().max_upload_bytes // 2**20} MB limit.",
            )
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_LATENCY.labels(request.method, path).observe(time.perf_counter() - start)
        HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        return response

    return app


app = create_app()
