"""``LedgerSink``: the request record's sink that feeds the spend ledger.

``emit`` turns a :class:`~gatewise.proxy.record.RequestRecord` into a
``gatewise_spend_logs`` row (:func:`spend_row`) and submits it to the
:class:`~gatewise.db.ledger.LedgerWriter`: a dict and two time stamps, no I/O.  The row is
made so the database cannot refuse it: text longer than its column (a client's ``user``
field can be anything) is cut to fit, a cost that is not a finite number counts 0, times
are UTC (ISO 8601 text with its ``+00:00``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String

from gatewise.db.schema import spend_logs

if TYPE_CHECKING:
    from gatewise.db.ledger import LedgerWriter
    from gatewise.proxy.record import RequestRecord

__all__ = ["LedgerSink", "spend_row"]

_LENGTHS: dict[str, int] = {
    column.name: column.type.length for column in spend_logs.columns
    if isinstance(column.type, String) and column.type.length}
_TEXTS = ("request_id", "api_key", "key_alias", "team_id", "user_id", "end_user", "route",
          "model_group", "deployment_id", "model", "error_type")
_SHORTEST = min(_LENGTHS[name] for name in _TEXTS)


def _fit(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    limit = _LENGTHS[name]
    return value if len(value) <= limit else value[:limit]


class _UtcText:
    """A time (seconds since the epoch) as ``2026-12-06 05:40:00.123456+00:00``: what
    ``datetime.fromtimestamp(t, UTC).isoformat(" ", "microseconds")`` writes -- PostgreSQL
    reads it as it is, SQLite stores it without its offset (as SQLAlchemy does) -- for a
    fraction of its cost: the whole seconds are written once each (a ledger's rows come a
    few thousand to the second), the microseconds rounded as ``datetime`` rounds them."""

    __slots__ = ("_seconds",)

    def __init__(self) -> None:
        self._seconds: dict[float, str] = {}

    def __call__(self, t: float) -> str:
        fraction, whole = math.modf(t)
        micro = round(fraction * 1e6)  # (half to even, as datetime does)
        if micro >= 1_000_000:
            whole, micro = whole + 1, micro - 1_000_000
        elif micro < 0:  # (before 1970)
            whole, micro = whole - 1, micro + 1_000_000
        prefix = self._seconds.get(whole)
        if prefix is None:
            if len(self._seconds) >= 64:
                self._seconds.clear()
            prefix = self._seconds[whole] = datetime.fromtimestamp(whole, UTC).isoformat(" ")[:19]
        return f"{prefix}.{micro:06d}+00:00"


def spend_row(record: RequestRecord, utc_text: Callable[[float], str] | None = None
              ) -> dict[str, Any]:
    """The ledger's row for ``record`` (every column of ``gatewise_spend_logs``; times as
    ``utc_text`` writes them: ISO 8601 in UTC, the writer stores them as its database
    wants)."""
    text = utc_text or _UtcText()
    latency = record.latency if math.isfinite(record.latency) else 0.0
    cost = record.cost if math.isfinite(record.cost) and record.cost > 0 else 0.0
    ttft = record.ttft
    row: dict[str, Any] = {
        "request_id": record.call_id,
        "api_key": record.key_id,
        "key_alias": record.key_alias,
        "team_id": record.team_id,
        "user_id": record.user_id,
        "end_user": record.end_user,
        "route": record.route,
        "model_group": record.model_group,
        "deployment_id": record.deployment_id,
        "model": record.model,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "reasoning_tokens": record.reasoning_tokens,
        "total_tokens": record.prompt_tokens + record.completion_tokens,
        "spend": cost,
        "status_code": record.status,
        "error_type": record.error_type,
        "start_time": text(record.start),
        "end_time": text(record.start + latency),
        "latency_ms": latency * 1000.0,
        "ttft_ms": ttft * 1000.0 if ttft is not None and math.isfinite(ttft) else None,
        "stream": record.stream,
        "usage_estimated": record.usage_estimated,
        "mock": record.mock,
        "retries": record.retries,
        "fallbacks": record.fallbacks,
    }
    # Texts longer than their column are cut to fit (one pass over them all when, as
    # usual, none is longer than the shortest column).
    if max(map(len, filter(None, map(row.__getitem__, _TEXTS))), default=0) > _SHORTEST:
        for name in _TEXTS:
            row[name] = _fit(row[name], name)
    return row


class LedgerSink:
    """Each request's record, as a row of the spend ledger."""

    __slots__ = ("_utc_text", "writer")

    def __init__(self, writer: LedgerWriter) -> None:
        self.writer = writer
        self._utc_text = _UtcText()

    def emit(self, record: RequestRecord) -> None:
        self.writer.submit(spend_row(record, self._utc_text))

    async def aclose(self) -> None:
        """Flush the ledger (within the writer's ``flush_timeout``) and stop its task."""
        await self.writer.aclose()

    def __repr__(self) -> str:
        return f"LedgerSink({self.writer!r})"
