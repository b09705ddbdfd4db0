"""``ProxyTracing``: a span per proxy request, and a child span per router attempt.

The request's span starts with its exchange (``start``: the client's ``traceparent`` /
``tracestate``, when it sent them, is its parent, else it is a new trace), is the current
span while the request is served -- so the router's attempts are its children -- and ends
with the record (``emit``), which gives it its GenAI attributes, its status and, on
failure, an ``exception`` event.  Each attempt on a deployment is a client span of its own
(the router's observer: ``attempt_started``), whose ``traceparent`` goes on the upstream
request.  Spans are handed to the provider's batch processor: exported from its thread,
never on the request's path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gatewise import __version__
from gatewise.record import RequestRecord
from gatewise.router.deployments import Deployment
from gatewise.telemetry.otel.attributes import (
    attempt_attributes,
    operation_of,
    record_attributes,
    usage_attributes,
)

__all__ = ["OPERATION_KEY", "AttemptSpan", "ProxyTracing", "context_headers"]

OPERATION_KEY = "gatewise.operation"
"""The context value naming the current call's operation (for its attempts' spans)."""
_TRACE_HEADERS = {b"traceparent": "traceparent", b"tracestate": "tracestate"}


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
    """The router's observer: a client span per attempt, child of the current span."""

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


class ProxyTracing(AttemptTracer):
    """The tracing sink (an opener: it starts each request's span) and attempt observer."""

    wants_details = True  # the answer's model and finish reasons, for the span

    def __init__(self, provider: TracerProvider, *, message_logging: bool = False,
                 close: Callable[[], None] | None = None) -> None:
        super().__init__(provider.get_tracer("gatewise.proxy", __version__))
        self.provider = provider
        self.message_logging = message_logging
        self._close = close or provider.shutdown
        self._propagator = TraceContextTextMapPropagator()

    def start(self, record: RequestRecord, headers: Sequence[tuple[bytes, bytes]]) -> None:
        carrier = {_TRACE_HEADERS[name]: value.decode("latin-1")
                   for name, value in headers if name in _TRACE_HEADERS}
        parent = self._propagator.extract(carrier) if carrier else Context()
        operation = operation_of(record.route)
        span = self._tracer.start_span(
            operation, context=parent, kind=SpanKind.SERVER,
            start_time=int(record.start * 1e9),
            attributes={"gen_ai.operation.name": operation, "gatewise.route": record.route,
                        "gatewise.call_id": record.call_id})
        current = otel_context.set_value(OPERATION_KEY, operation,
                                         trace.set_span_in_context(span, parent))
        record.span = (span, otel_context.attach(current))
        trace_id = span.get_span_context().trace_id
        if trace_id:
            record.trace_id = f"{trace_id:032x}"

    def emit(self, record: RequestRecord) -> None:
        handle = record.span
        if handle is None:
            return
        record.span = None
        span, token = handle
        try:
            if span.is_recording():
                if record.model_group is not None:
                    span.update_name(f"{operation_of(record.route)} {record.model_group}")
                span.set_attributes(record_attributes(record))
                if record.status >= 400:
                    failed(span, record.error_type or "error", f"HTTP {record.status}")
            span.end()
        finally:
            otel_context.detach(token)

    async def aclose(self) -> None:
        import asyncio

        # Export what is left (bounded: a collector that is down does not hold the exit).
        await asyncio.to_thread(self._close)
