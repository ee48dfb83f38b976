"""Prometheus metrics. Counters live in the process that counts; job totals come from the database at scrape
time, so any API replica reports the same numbers whatever process ran the jobs."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

HTTP_REQUESTS = Counter("avatar_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "avatar_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
JOBS_SUBMITTED = Counter("avatar_jobs_submitted_total", "Jobs accepted by the API")
SEGMENTS = Counter("avatar_segments_total", "Pipeline segments run by this process", ["resource", "outcome"])
NODE_SECONDS = Histogram(
    "avatar_node_seconds",
    "Wall time of pipeline nodes",
    ["node"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
WEBHOOK_ATTEMPTS = Counter("avatar_webhook_attempts_total", "Webhook delivery attempts", ["outcome"])


class JobStatusCollector(Collector):
    """avatar_jobs{status=...}: jobs in the database by status."""

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield self._family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy import func, select

        from core.db import JOB_STATUSES, Job, session_scope

        family = self._family()
        with session_scope() as session:
            counts = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        for status in JOB_STATUSES:
            family.add_metric([status], counts.get(status, 0))
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("avatar_jobs", "Jobs in the database by status", labels=["status"])


_registered = False


def register_job_collector() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(JobStatusCollector())
        _registered = True
