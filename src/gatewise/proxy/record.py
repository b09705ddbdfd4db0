"""The one record of a request, built in one place and handed to every sink.

When a model request ends -- answered, failed, refused or abandoned by its client -- the
app finishes its :class:`RequestRecord` and gives it to each configured sink: the spend
ledger, metrics, traces, the request log.  A sink's ``emit`` must be quick and must never
block (a bounded queue and a background writer for anything that does I/O); one that
raises is logged and counted, and never breaks the request or the other sinks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

__all__ = ["RequestRecord", "Sink", "Sinks"]

logger = logging.getLogger("gatewise.proxy")


@dataclass(slots=True, eq=False)
class RequestRecord:
    """What one request was and what became of it.  Times: ``start`` is the wall clock
    (epoch seconds) at arrival; durations are seconds."""

    call_id: str
    route: str  # chat / embeddings / completions / ...
    start: float
    key_id: str | None = None  # the virtual key's token (digest); None for master/open
    key_alias: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    end_user: str | None = None
    model_group: str | None = None  # only a name the proxy serves (bounded: metric labels)
    deployment_id: str | None = None
    model: str | None = None  # the upstream model
    stream: bool = False
    status: int = 0
    error_type: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    usage_estimated: bool = False  # an abandoned or broken stream: counted so far, or guessed
    latency: float = 0.0
    upstream_latency: float | None = None  # waiting for the router's answer (a stream: its
    # first chunk)
    overhead: float | None = None  # the proxy's own time: latency minus upstream time
    ttft: float | None = None
    retries: int = 0
    fallbacks: int = 0
    mock: bool = False
    cached: bool = False
    abandoned: bool = False  # the client left before the end

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Sink(Protocol):
    def emit(self, record: RequestRecord) -> None:
        """Take the record; quick, non-blocking."""

    async def aclose(self) -> None:
        """Flush what is pending (graceful shutdown)."""


class Sinks:
    """The configured sinks, fanned out to."""

    __slots__ = ("errors", "sinks")

    def __init__(self, sinks: list[Sink] | None = None) -> None:
        self.sinks: list[Sink] = list(sinks or ())
        self.errors = 0

    def add(self, sink: Sink) -> None:
        self.sinks.append(sink)

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
