"""``ProxyTracing``: a span per proxy request, and a child span per router attempt.

The request's span starts with its exchange (``start``): the client's ``traceparent`` /
``tracestate``, when valid, is its parent (and says whether it is sampled), else it begins
a trace.  It is the current span while the request is served, so the router's attempts
(``attempt_started``: the router's observer) are its children; each attempt's
``traceparent`` goes on its upstream request.  It ends with the record (``emit``), which
gives it its GenAI attributes, its status and, on failure, an ``exception`` event.

Everything a span is, is known when it ends: each is written once, finished
(``otlp.SpanData``), and handed to the batcher (``export``), which encodes and sends on its
own thread.  None of the SDK's live-span machinery (a sampler call, locks and context
objects per span, its encoder) is paid on the request's path: about a quarter of what SDK
spans cost the proxy, measured.  The sampler the ``OTEL_TRACES_SAMPLER`` variables set is
asked once per request when it is not the default (parent-based, always on).
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

from gatewise.record import RequestRecord
from gatewise.router.deployments import Deployment
from gatewise.telemetry.otel.attributes import (
    attempt_attributes,
    fixed_attributes,
    fixed_of,
    operation_of,
    usage_attributes,
    varying_attributes,
)
from gatewise.telemetry.otel.export import SpanBatcher
from gatewise.telemetry.otel.otlp import CLIENT, ERROR, SERVER, SpanData, encode_attributes

__all__ = ["ProxyTracing", "parse_traceparent"]

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_TRACESTATE = re.compile(r"[ -~]{1,512}")  # printable ASCII: checked by members below


def parse_traceparent(value: str) -> tuple[int, int, int] | None:
    """W3C ``traceparent`` -> (trace id, parent id, flags); None if it is not one."""
    found = _TRACEPARENT.fullmatch(value.strip())
    if found is None:
        return None
    version, trace, span, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    trace_id, span_id = int(trace, 16), int(span, 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, int(flags, 16)


def _tracestate(value: str) -> str:
    """The client's ``tracestate``, passed on when it is well formed (else dropped)."""
    if not _TRACESTATE.fullmatch(value):
        return ""
    members = [m.strip() for m in value.split(",") if m.strip()]
    if len(members) > 32 or any(m.count("=") < 1 or m.startswith("=") for m in members):
        return ""
    return ",".join(members)


class _Request:
    """A request's span while it runs."""

    __slots__ = ("events", "flags", "hex", "operation", "parent_id", "remote", "sampled",
                 "span_id", "start", "state", "token", "trace_id")

    def __init__(self, operation: str, trace_id: int, span_id: int, start: int,
                 parent_id: int = 0, flags: int = 1, state: str = "") -> None:
        self.operation = operation
        self.trace_id = trace_id
        self.hex = f"{trace_id:032x}"  # (in the record, and each attempt's traceparent)
        self.span_id = span_id
        self.start = start
        self.parent_id = parent_id
        self.remote = bool(parent_id)
        self.flags = flags
        self.sampled = bool(flags & 1)
        self.state = state
        self.events: list[tuple[int, str, dict[str, Any]]] = []
        self.token: Any = None


_CURRENT: ContextVar[_Request | None] = ContextVar("gatewise_request_span", default=None)


class _Attempt:
    """One attempt's span: the headers that carry it upstream, and its end."""

    __slots__ = ("_batcher", "_fixed", "_name", "_parent", "_span_id", "_start", "headers")

    def __init__(self, batcher: SpanBatcher, parent: _Request, span_id: int, name: str,
                 fixed: bytes) -> None:
        self._batcher = batcher
        self._parent = parent
        self._span_id = span_id
        self._name = name
        self._fixed = fixed  # its attributes at the start, encoded
        self._start = time.time_ns()
        traceparent = ("traceparent",
                       f"00-{parent.hex}-{span_id:016x}-{parent.flags & 0xff:02x}")
        self.headers = ((traceparent, ("tracestate", parent.state)) if parent.state
                        else (traceparent,))

    def ended(self, error: BaseException | None, usage: Any) -> None:
        parent = self._parent
        if not parent.sampled:
            return
        end = time.time_ns()
        attributes: dict[str, Any] = {}
        span = SpanData(parent.trace_id, self._span_id, parent.span_id, self._name, CLIENT,
                        self._start, end, attributes, trace_state=parent.state,
                        fixed=self._fixed)
        if error is not None:
            code = getattr(error, "status_code", None)
            if isinstance(code, int):
                attributes["http.response.status_code"] = code
            kind, message = type(error).__name__, str(error)[:1000]
            attributes["error.type"] = kind
            span.status_code, span.status_message = ERROR, message
            span.events = [(end, "exception", {"exception.type": kind,
                                               "exception.message": message})]
        elif usage is not None:
            span.attributes = usage_attributes(usage)
        self._batcher.add(span)


class ProxyTracing:
    """The tracing sink (an opener: it starts each request's span) and attempt observer."""

    wants_details = True  # the answer's model and finish reasons, for the span

    def __init__(self, batcher: SpanBatcher, *, sampler: Any = None,
                 message_logging: bool = False, close: Callable[[], None] | None = None
                 ) -> None:
        self.batcher = batcher
        self.sampler = sampler  # None: the default (parent-based, always on)
        self.message_logging = message_logging
        self._close = close or batcher.close
        self._bits = random.Random(os.urandom(16)).getrandbits  # as the SDK's, own state
        # An attempt's name and attributes (encoded) at its start, by operation, model,
        # deployment and streaming: a few.
        self._attempts: dict[tuple[str, str, str, bool], tuple[str, bytes]] = {}
        # A request's attributes that a handful of its record's fields decide (``fixed_of``),
        # encoded, by those fields: a few too (a model, a route, a status, a team...).
        self._fixed: dict[tuple[Any, ...], bytes] = {}

    def new_id(self, bits: int = 64) -> int:
        """A random trace (128 bits) or span (64) id, never 0."""
        return self._bits(bits) or 1

    # -- the request ----------------------------------------------------------------------

    def start(self, record: RequestRecord, headers: Sequence[tuple[bytes, bytes]]) -> None:
        parent = state = None
        for name, value in headers:
            if name == b"traceparent":
                parent = parse_traceparent(value.decode("latin-1"))
            elif name == b"tracestate":
                state = value.decode("latin-1")
        operation = operation_of(record.route)
        start = int(record.start * 1e9)
        if parent is None:
            request = _Request(operation, self.new_id(128), self.new_id(64), start)
        else:
            trace_id, parent_id, flags = parent
            request = _Request(operation, trace_id, self.new_id(64), start, parent_id, flags,
                               _tracestate(state) if state else "")
        if self.sampler is not None:
            request.sampled = self._sampled(request)
            request.flags = (request.flags & ~1) | request.sampled
        request.token = _CURRENT.set(request)
        record.span = request
        record.trace_id = request.hex

    def _sampled(self, request: _Request) -> bool:
        from opentelemetry.context import Context
        from opentelemetry.trace import (
            NonRecordingSpan,
            SpanContext,
            SpanKind,
            TraceFlags,
            set_span_in_context,
        )

        context = Context()
        if request.parent_id:
            context = set_span_in_context(NonRecordingSpan(SpanContext(
                request.trace_id, request.parent_id, True, TraceFlags(request.flags & 0xff))))
        result = self.sampler.should_sample(context, request.trace_id, request.operation,
                                            SpanKind.SERVER)
        return bool(result.decision.is_sampled())

    def emit(self, record: RequestRecord) -> None:
        request = record.span
        if not isinstance(request, _Request):
            return
        record.span = None
        _CURRENT.reset(request.token)
        if not request.sampled:
            return
        end = time.time_ns()
        name = (f"{request.operation} {record.model_group}" if record.model_group
                else request.operation)
        fixed_key = fixed_of(record)
        fixed = self._fixed.get(fixed_key)
        if fixed is None:
            fixed = encode_attributes(fixed_attributes(record))
            if len(self._fixed) >= 4096:  # (aliases, error types: bounded all the same)
                self._fixed.clear()
            self._fixed[fixed_key] = fixed
        span = SpanData(request.trace_id, request.span_id, request.parent_id, name, SERVER,
                        request.start, end, varying_attributes(record),
                        parent_remote=request.remote, trace_state=request.state,
                        events=request.events, fixed=fixed)
        if record.status >= 400:
            kind = record.error_type or "error"
            span.status_code, span.status_message = ERROR, f"HTTP {record.status}"
            request.events.append((end, "exception", {"exception.type": kind,
                                                      "exception.message": span.status_message}))
        self.batcher.add(span)

    async def aclose(self) -> None:
        import asyncio

        # Export what is left (bounded: a collector that is down does not hold the exit).
        await asyncio.to_thread(self._close)

    # -- the router's observer --------------------------------------------------------------

    def attempt_started(self, deployment: Deployment, model: str, stream: bool) -> _Attempt:
        request = _CURRENT.get()
        if request is None:  # not within a request (no such call yet): a trace of its own
            request = _Request("chat", self.new_id(128), self.new_id(64), time.time_ns())
        memo = (request.operation, model, deployment.id, stream)
        known = self._attempts.get(memo)
        if known is None:
            attributes = attempt_attributes(request.operation, model, deployment.id,
                                            deployment.api_base)
            if stream:
                attributes["gen_ai.request.stream"] = True
            known = (f"{request.operation} {attributes['gen_ai.request.model']}",
                     encode_attributes(attributes))
            if len(self._attempts) < 4096:  # bounded by the config (wildcards aside)
                self._attempts[memo] = known
        return _Attempt(self.batcher, request, self.new_id(64), *known)

    def cooled_down(self, deployment: Deployment, seconds: float) -> None:
        request = _CURRENT.get()
        if request is not None:
            request.events.append((time.time_ns(), "gatewise.cooldown", {
                "gatewise.deployment": deployment.id, "gatewise.cooldown_s": seconds}))
