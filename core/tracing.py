"""Traces: a span per pipeline node and per model call, through the OpenTelemetry API.

Off by default, at no cost: without a configured exporter nothing is installed and the API hands out
non-recording spans. Configured by the standard variables, read once per process (`setup_tracing`):
- OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): OTLP over HTTP/protobuf to that collector
  (OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME and the other OTEL_* variables apply);
- LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY (LANGFUSE_HOST, default https://cloud.langfuse.com): the same spans to
  Langfuse's OpenTelemetry endpoint, where the LLM call's prompt and reply show as its input and output.

Every span of a job belongs to one trace whose id is made from the job id, so the nodes of a job that ran on
several workers, at different times, land in the same trace; logs carry the same ids (`job_ids`).
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

TRACER = "avatar"
LANGFUSE_HOST = "https://cloud.langfuse.com"
LANGFUSE_PATH = "/api/public/otel/v1/traces"

log = logging.getLogger(__name__)
_job: contextvars.ContextVar[str | None] = contextvars.ContextVar("avatar_job_id", default=None)
_setup_lock = threading.Lock()
_exporting: bool | None = None  # None: not decided yet in this process


def setup_tracing() -> bool:
    """Install the SDK's tracer provider with the configured exporters, once per process; whether any is."""
    global _exporting
    if _exporting is not None:
        return _exporting
    with _setup_lock:
        if _exporting is None:
            _exporting = _install()
    return _exporting


def _install() -> bool:
    exporters = []
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporters.append(OTLPSpanExporter())  # endpoint, headers, timeout from the OTEL_* variables
    public, secret = os.environ.get("LANGFUSE_PUBLIC_KEY"), os.environ.get("LANGFUSE_SECRET_KEY")
    if public and secret:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        host = os.environ.get("LANGFUSE_HOST", LANGFUSE_HOST).rstrip("/")
        auth = base64.b64encode(f"{public}:{secret}".encode()).decode()
        exporters.append(OTLPSpanExporter(endpoint=host + LANGFUSE_PATH, headers={"Authorization": f"Basic {auth}"}))
    if not exporters:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "avatar")}))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    log.info("tracing: exporting spans to %d destination(s)", len(exporters))
    return True


def trace_id_of(job_id: str) -> int:
    """The 128-bit trace id of a job: its uuid4 hex itself, or a hash of another id."""
    try:
        value = int(job_id, 16) if len(job_id) == 32 else 0
    except ValueError:
        value = 0
    return value or int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:16], "big")


def job_ids() -> dict[str, str]:
    """job_id and trace_id of the job being worked on here (empty outside one), for log records."""
    job_id = _job.get()
    return {"job_id": job_id, "trace_id": f"{trace_id_of(job_id):032x}"} if job_id else {}


@contextmanager
def job_span(job_id: str, name: str, attributes: dict[str, Any] | None = None) -> Iterator[trace.Span]:
    """A span `name` in the job's trace (its parent: the job's trace root, the same in every process)."""
    setup_tracing()
    trace_id = trace_id_of(job_id)
    root = SpanContext(trace_id, trace_id & ((1 << 64) - 1), is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(root)))
    job_token = _job.set(job_id)
    try:
        with span(name, {"job.id": job_id} | (attributes or {})) as current:
            yield current
    finally:
        _job.reset(job_token)
        context.detach(token)


@contextmanager
def span(name: str, attributes: dict[str, Any] | None = None) -> Iterator[trace.Span]:
    """A span under the current one (a model call inside a node)."""
    with trace.get_tracer(TRACER).start_as_current_span(name, attributes=attributes) as current:
        yield current


class JobLogFilter(logging.Filter):
    """Adds job_id and trace_id to records logged while a job's node runs (unless the record has its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in job_ids().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True
