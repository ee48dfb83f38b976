"""Traces: a span per pipeline node and per model call, through the OpenTelemetry API.

Off by default, at no cost: without a configured exporter nothing is installed and the API hands out
non-recording spans. Configured by the standard variables, read once per process (`setup_tracing`):
- OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): OTLP over HTTP/protobuf to that collector
  (OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME and the other OTEL_* variables apply);
- LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY (LANGFUSE_HOST, default https://cloud.langfuse.com): the same spans to
  Langfuse through its SDK (which posts them to the host's OpenTelemetry endpoint), the LLM calls as generations
  whose input is the prompt and output the reply (`generation`).

Every span of a job belongs to one trace whose id is made from the job id, so the nodes of a job that ran on
several workers, at different times, land in the same trace; logs carry the same ids (`job_ids`).
"""

from __future__ import annotations

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

log = logging.getLogger(__name__)
_job: contextvars.ContextVar[str | None] = contextvars.ContextVar("avatar_job_id", default=None)
_setup_lock = threading.Lock()
_exporting: bool | None = None  # None: not decided yet in this process
_langfuse: Any = None  # the Langfuse client, when its keys are set


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
    global _langfuse
    otlp = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    public, secret = os.environ.get("LANGFUSE_PUBLIC_KEY"), os.environ.get("LANGFUSE_SECRET_KEY")
    if not otlp and not (public and secret):
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "avatar")}))
    if otlp:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # endpoint, headers, timeout from the OTEL_* variables
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if public and secret:
        from langfuse import Langfuse

        # The SDK adds its exporter to our provider; every span goes (by default it keeps only LLM libraries' spans)
        _langfuse = Langfuse(
            public_key=public,
            secret_key=secret,
            host=os.environ.get("LANGFUSE_HOST", LANGFUSE_HOST),
            tracer_provider=provider,
            should_export_span=lambda _: True,
        )
    trace.set_tracer_provider(provider)
    log.info("tracing: spans go to %s", " and ".join(n for n, on in (("OTLP", otlp), ("Langfuse", _langfuse)) if on))
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


class Generation:
    """A model call being traced: its reply or why it failed go on the span (or the Langfuse generation)."""

    def __init__(self, current: Any, langfuse: bool):
        self.current, self.langfuse = current, langfuse

    def reply(self, text: str) -> None:
        if self.langfuse:
            self.current.update(output=text)
        else:
            self.current.set_attribute("gen_ai.completion", text)

    def failed(self, reason: str) -> None:
        if self.langfuse:
            self.current.update(level="ERROR", status_message=reason)
        else:
            self.current.set_attribute("error", reason)


@contextmanager
def generation(name: str, model: str, prompt: str, attributes: dict[str, Any]) -> Iterator[Generation]:
    """A span for one call to a language model under the current span; with Langfuse, a generation whose input is
    the prompt (a user message) and whose output is the reply."""
    setup_tracing()
    if _langfuse is None:
        with span(name, {"gen_ai.request.model": model, "gen_ai.prompt": prompt} | attributes) as current:
            yield Generation(current, langfuse=False)
        return
    with _langfuse.start_as_current_observation(
        name=name,
        as_type="generation",
        model=model,
        input=[{"role": "user", "content": prompt}],
        metadata=attributes,
    ) as current:
        yield Generation(current, langfuse=True)


class JobLogFilter(logging.Filter):
    """Adds job_id and trace_id to records logged while a job's node runs (unless the record has its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in job_ids().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True
