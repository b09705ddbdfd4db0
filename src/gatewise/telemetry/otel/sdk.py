"""The SDK's spans, made when the application has set a tracer provider
(``opentelemetry.trace.set_tracer_provider``: ``gatewise._observe`` checks for one without
importing OpenTelemetry).

A ``Client`` / ``AsyncClient`` call is one client span (``chat mistral-small-latest``),
child of the application's current span, whose ``traceparent`` goes on the upstream
request.  A ``Router`` call is a span for the call (``chat <model name>``) and, under it, a
client span per attempt on a deployment (the router's observer, as in the proxy).  Their
attributes are the proxy's (``attributes``); prompts and completions are recorded only
with ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` (OpenTelemetry's GenAI
instrumentations' switch).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from gatewise import __version__
from gatewise._http._propagate import CONTEXT_HEADERS
from gatewise.record import RequestRecord
from gatewise.telemetry.otel.attributes import (
    operation_of,
    provider_of,
    record_attributes,
    request_attributes,
)
from gatewise.telemetry.otel.spans import OPERATION_KEY, AttemptTracer, context_headers, failed

__all__ = ["CAPTURE_ENV", "CallSpan", "attempt_tracer", "capture_content"]

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def capture_content() -> bool:
    return os.environ.get(CAPTURE_ENV, "").strip().lower() == "true"


def _tracer() -> trace.Tracer:
    return trace.get_tracer("gatewise", __version__)


def attempt_tracer() -> AttemptTracer:
    """The observer a router is given for its attempts' spans."""
    return AttemptTracer(_tracer())


class CallSpan:
    """One SDK call's span: current while the call runs (``enter`` / ``leave``: its
    attempts are its children, its context goes upstream), ended with the record."""

    __slots__ = ("_headers", "_operation", "_tokens", "span")

    def __init__(self, route: str, model: str, params: Mapping[str, Any], *,
                 routed: bool) -> None:
        operation = operation_of(route)
        name = model.partition("/")[2] if not routed and "/" in model else model
        attributes: dict[str, Any] = {"gen_ai.operation.name": operation,
                                      "gen_ai.request.model": name,
                                      **request_attributes(params)}
        provider = provider_of(model)
        if provider is not None and not routed:
            attributes["gen_ai.provider.name"] = provider
        self.span = _tracer().start_span(f"{operation} {name}",
                                         kind=SpanKind.INTERNAL if routed else SpanKind.CLIENT,
                                         attributes=attributes)
        # A routed call's attempts carry their own spans upstream; a direct one, this one.
        self._headers = () if routed else context_headers(self.span)
        self._operation = operation
        self._tokens: tuple[Any, Any] | None = None

    def enter(self) -> None:
        parent = otel_context.get_current()
        current = otel_context.set_value(OPERATION_KEY, self._operation,
                                         trace.set_span_in_context(self.span, parent))
        self._tokens = (otel_context.attach(current),
                        CONTEXT_HEADERS.set(self._headers) if self._headers else None)

    def leave(self) -> None:
        tokens, self._tokens = self._tokens, None
        if tokens is not None:
            otel_context.detach(tokens[0])
            if tokens[1] is not None:
                CONTEXT_HEADERS.reset(tokens[1])

    def end(self, record: RequestRecord, error: BaseException | None) -> None:
        span = self.span
        if span.is_recording():
            attributes = record_attributes(record)
            attributes.pop("gatewise.route", None)
            span.set_attributes(attributes)
            if error is not None:
                failed(span, record.error_type or type(error).__name__, str(error)[:1000])
        span.end()
