"""Helpers for spans made with an OpenTelemetry tracer (the SDK's calls, in the
application's tracer provider): the context headers of a span, a failure on it, and the
router observer that makes a client span per attempt."""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from gatewise.router.deployments import Deployment
from gatewise.telemetry.otel.attributes import attempt_attributes, usage_attributes

__all__ = ["OPERATION_KEY", "AttemptSpan", "AttemptTracer", "context_headers", "failed"]

OPERATION_KEY = "gatewise.operation"
"""The context value naming the current call's operation (for its attempts' spans)."""


def context_headers(span: trace.Span) -> tuple[tuple[str, str], ...]:
    """``span``'s W3C trace context, as headers for an upstream request."""
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return ()
    headers = [("traceparent", f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-"
                               f"{int(ctx.trace_flags):02x}")]
    state = ctx.trace_state.to_header() if ctx.trace_state else ""
    if state:
        headers.append(("tracestate", state))
    return tuple(headers)


def failed(span: trace.Span, error_type: str, message: str) -> None:
    span.set_status(Status(StatusCode.ERROR, message))
    span.set_attribute("error.type", error_type)
    span.add_event("exception", {"exception.type": error_type, "exception.message": message})


class AttemptSpan:
    """One attempt's span and the headers that carry it upstream."""

    __slots__ = ("headers", "span")

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.headers = context_headers(span)

    def ended(self, error: BaseException | None, usage: Any) -> None:
        span = self.span
        if error is not None:
            status = getattr(error, "status_code", None)
            if isinstance(status, int):
                span.set_attribute("http.response.status_code", status)
            failed(span, type(error).__name__, str(error)[:1000])
        else:
            attributes = usage_attributes(usage)
            if attributes:
                span.set_attributes(attributes)
        span.end()


class AttemptTracer:
    """A router's observer: a client span per attempt, child of the current span."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def attempt_started(self, deployment: Deployment, model: str, stream: bool
                        ) -> AttemptSpan:
        operation = otel_context.get_value(OPERATION_KEY)
        name = operation if isinstance(operation, str) else "chat"
        attributes = attempt_attributes(name, model, deployment.id, deployment.api_base)
        if stream:
            attributes["gen_ai.request.stream"] = True
        span = self._tracer.start_span(f"{name} {attributes['gen_ai.request.model']}",
                                       kind=SpanKind.CLIENT, attributes=attributes)
        return AttemptSpan(span)

    def cooled_down(self, deployment: Deployment, seconds: float) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event("gatewise.cooldown", {"gatewise.deployment": deployment.id,
                                                 "gatewise.cooldown_s": seconds})
