"""The one record of a request, built in one place and handed to every sink.

When a model request starts, the sinks that want to know (:class:`Opener`: requests in
flight, the request's span) are told, with its headers.  When it ends -- answered, failed,
refused or abandoned by its client -- the app finishes its :class:`RequestRecord` and
gives it to each configured sink: the spend ledger, metrics, traces, the request log.  A
sink's ``emit`` must be quick and must never block (a bounded queue and a background
writer for anything that does I/O); one that raises is logged and counted, and never
breaks the request or the other sinks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, cast

from gatewise.record import RequestRecord

__all__ = ["Opener", "RequestRecord", "Sink", "Sinks"]

logger = logging.getLogger("gatewise.proxy")


class Sink(Protocol):
    def emit(self, record: RequestRecord) -> None:
        """Take the record; quick, non-blocking."""

    async def aclose(self) -> None:
        """Flush what is pending (graceful shutdown)."""


class Opener(Sink, Protocol):
    """A sink told of each request as it starts, with its headers (e.g. a trace's
    ``traceparent``); quick, and never raises for the request's sake."""

    def start(self, record: RequestRecord, headers: Sequence[tuple[bytes, bytes]]) -> None:
        """The request has begun (``record`` holds its call id, route, start, caller)."""


class Sinks:
    """The configured sinks, fanned out to.  ``openers``: those told of each start too;
    ``details``: whether one wants what the answer says (its model, finish reasons), which
    the exchange then reads from it."""

    __slots__ = ("details", "errors", "openers", "sinks")

    def __init__(self, sinks: list[Sink] | None = None) -> None:
        self.sinks: list[Sink] = []
        self.openers: list[Opener] = []
        self.details = False
        self.errors = 0
        for sink in sinks or ():
            self.add(sink)

    def add(self, sink: Sink) -> None:
        self.sinks.append(sink)
        if callable(getattr(sink, "start", None)):
            self.openers.append(cast(Opener, sink))
        self.details = self.details or bool(getattr(sink, "wants_details", False))

    def start(self, record: RequestRecord, headers: Sequence[tuple[bytes, bytes]]) -> None:
        for opener in self.openers:
            try:
                opener.start(record, headers)
            except Exception:
                self.errors += 1
                logger.exception("call %s: the %s sink failed on its start", record.call_id,
                                 type(opener).__name__)

    def emit(self, record: RequestRecord) -> None:
        for sink in self.sinks:
            try:
                sink.emit(record)
            except Exception:
                self.errors += 1
                logger.exception("call %s: the %s sink failed on its record", record.call_id,
                                 type(sink).__name__)

    async def aclose(self) -> None:
        for sink in self.sinks:
            try:
                await sink.aclose()
            except Exception:
                logger.exception("the %s sink failed to close", type(sink).__name__)
