"""Service status, dashboard and performance stats, Prometheus /metrics, /healthz and /readyz."""

from __future__ import annotations

import hmac
import statistics
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, Depends, Header, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from api.deps import key_owner, request_owner, sent_key
from api.errors import APIError, unavailable_response
from core.db import JOB_STATUSES, Job, get_engine, session_scope, utcnow
from core.settings import get_settings
from core.storage import open_storage
from workers.dispatch import broker_ok, distributed

router = APIRouter(tags=["status"])
PERFORMANCE_SAMPLE = 500  # most recent finished jobs the performance stats are computed from


def _version() -> str:
    try:
        return version("avatar-orchestrator")
    except PackageNotFoundError:
        return "dev"


def _checks() -> dict[str, bool]:
    checks: dict[str, bool] = {}
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = True
    except Exception:
        checks["database"] = False
    try:
        open_storage().exists("readyz-probe")
        checks["storage"] = True
    except Exception:
        checks["storage"] = False
    if distributed():
        checks["broker"] = broker_ok()
    return checks


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (answered on the event loop itself: if it is blocked, this is late)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz() -> JSONResponse:
    """Database, storage (and broker, when distributed) answer; 503 with Retry-After otherwise."""
    checks = _checks()
    if all(checks.values()):
        return JSONResponse({"status": "ok", "checks": checks})
    down = " and ".join(name for name, ok in checks.items() if not ok)
    return unavailable_response(down, checks=checks)


def metrics_access(authorization: str | None = Header(default=None)) -> None:
    """/metrics is open unless AVATAR_METRICS_TOKEN is set (then that bearer token) or API keys are required
    (then any valid key)."""
    settings = get_settings()
    if settings.metrics_token:
        sent = sent_key(authorization, None)
        if sent is None or not hmac.compare_digest(sent, settings.metrics_token):
            raise APIError(
                401, "metrics_token_required", "Send 'Authorization: Bearer <AVATAR_METRICS_TOKEN>' to read /metrics."
            )
    elif settings.require_api_key:
        key_owner(sent_key(authorization, None))


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_access)])
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/status")
def status() -> dict[str, Any]:
    settings = get_settings()
    return {
        "status": "ok",
        "version": _version(),
        "mode": "distributed" if distributed() else "embedded",
        "database": get_engine().dialect.name,
        "storage": settings.resolved_storage_url.split("://", 1)[0],
        "queues": ["cpu", "gpu"] if distributed() else ["in-process"],
        "gpu_workers": _gpu_workers() if distributed() else None,
        "require_api_key": settings.require_api_key,
    }


def _gpu_workers() -> list[dict[str, Any]] | None:
    """The live gpu workers and their devices (core.gpu_workers); None when the broker keeps no list or is away."""
    from dataclasses import asdict

    from core import gpu_workers

    try:
        workers = gpu_workers.live()
    except Exception:
        return None
    return None if workers is None else [asdict(w) for w in workers]


@router.get("/api/v1/stats/dashboard")
def dashboard(owner: str = Depends(request_owner)) -> dict[str, Any]:
    """This key's jobs by status, today's volume, success rate and average times."""
    since = utcnow() - timedelta(hours=24)
    with session_scope() as session:
        counts = dict(
            session.execute(select(Job.status, func.count()).where(Job.owner == owner).group_by(Job.status)).all()
        )
        last_24h = session.scalar(select(func.count()).where(Job.owner == owner, Job.created_at >= since)) or 0
        finished = session.execute(
            select(Job.created_at, Job.started_at, Job.finished_at)
            .where(Job.owner == owner, Job.status == "succeeded", Job.started_at.is_not(None))
            .order_by(Job.finished_at.desc())
            .limit(PERFORMANCE_SAMPLE)
        ).all()
    done = counts.get("succeeded", 0) + counts.get("failed", 0)
    return {
        "jobs": {s: counts.get(s, 0) for s in JOB_STATUSES},
        "total": sum(counts.values()),
        "last_24h": last_24h,
        "success_rate": round(counts.get("succeeded", 0) / done, 4) if done else None,
        "avg_queue_seconds": _mean([(s - c).total_seconds() for c, s, _ in finished]),
        "avg_run_seconds": _mean([(f - s).total_seconds() for _, s, f in finished]),
    }


@router.get("/api/v1/stats/performance")
def performance(owner: str = Depends(request_owner)) -> dict[str, Any]:
    """Per-node and end-to-end seconds (mean, p50, p95) over this key's recent successful jobs."""
    with session_scope() as session:
        rows = session.execute(
            select(Job.timings, Job.created_at, Job.finished_at)
            .where(Job.owner == owner, Job.status == "succeeded")
            .order_by(Job.finished_at.desc())
            .limit(PERFORMANCE_SAMPLE)
        ).all()
    per_node: dict[str, list[float]] = {}
    for timings, _, _ in rows:
        for node, seconds in (timings or {}).items():
            per_node.setdefault(node, []).append(float(seconds))
    total = [(f - c).total_seconds() for _, c, f in rows if f]
    return {
        "jobs": len(rows),
        "nodes": {n: _summary(v) for n, v in per_node.items()},
        "end_to_end": _summary(total),
    }


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "p50": None, "p95": None}
    ordered = sorted(values)
    return {
        "mean": _mean(values),
        "p50": round(statistics.median(ordered), 4),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 4),
    }
