"""Traces: a span per pipeline node and per model call, through the OpenTelemetry API.

Off by default, at no cost: without a configured SDK the API hands out non-recording spans. `setup_tracing()`
installs an exporter only when one is configured (see its docstring)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace

TRACER = "avatar"


@contextmanager
def span(name: str, attributes: dict[str, Any] | None = None) -> Iterator[trace.Span]:
    with trace.get_tracer(TRACER).start_as_current_span(name, attributes=attributes) as current:
        yield current
