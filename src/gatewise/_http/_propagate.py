"""Headers carrying the caller's trace context to the upstream (W3C ``traceparent``).

Tracing code (``gatewise.telemetry.otel``) sets :data:`CONTEXT_HEADERS` around an upstream
call -- a router attempt, an SDK call -- and ``send`` / ``open_stream`` put them on every
request made meanwhile, as the request's ``context_headers``: sent with it, never cached
with its other headers (each call has its own).  A context variable, as OpenTelemetry's own
context is: each task and thread sees its own value, and the code between the span and the
wire needs no parameter for it.  Unset (the default), a request costs one lookup more.
"""

from __future__ import annotations

from contextvars import ContextVar

from gatewise._http._models import Request

__all__ = ["CONTEXT_HEADERS", "ContextHeaders", "carrying"]

ContextHeaders = tuple[tuple[str, str], ...]

CONTEXT_HEADERS: ContextVar[ContextHeaders] = ContextVar("gatewise_context_headers",
                                                         default=())


def carrying(request: Request, context: ContextHeaders) -> Request:
    """``request`` carrying ``context`` (as ``request._replace(context_headers=context)``
    would, at a third of its cost: it is made for every traced call)."""
    method, url, headers, content, ssl_verify, _ = request
    return Request(method, url, headers, content, ssl_verify, context)
