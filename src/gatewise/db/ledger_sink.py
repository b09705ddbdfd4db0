"""``LedgerSink``: the request record's sink that feeds the spend ledger.

``emit`` turns a :class:`~gatewise.proxy.record.RequestRecord` into a
``gatewise_spend_logs`` row (:func:`spend_row`) and submits it to the
:class:`~gatewise.db.ledger.LedgerWriter`: a dict and two datetimes, no I/O.  The row is
made so the database cannot refuse it: text longer than its column (a client's ``user``
field can be anything) is cut to fit, a cost that is not a finite number counts 0, times
are UTC.
"""

from __future__ import annotations

import math
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


def _fit(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    limit = _LENGTHS[name]
    return value if len(value) <= limit else value[:limit]


def spend_row(record: RequestRecord) -> dict[str, Any]:
    """The ledger's row for ``record`` (every column of ``gatewise_spend_logs``)."""
    start = datetime.fromtimestamp(record.start, UTC)
    latency = record.latency if math.isfinite(record.latency) else 0.0
    cost = record.cost if math.isfinite(record.cost) and record.cost > 0 else 0.0
    ttft = record.ttft
    return {
        "request_id": _fit(record.call_id, "request_id"),
        "api_key": _fit(record.key_id, "api_key"),
        "key_alias": _fit(record.key_alias, "key_alias"),
        "team_id": _fit(record.team_id, "team_id"),
        "user_id": _fit(record.user_id, "user_id"),
        "end_user": _fit(record.end_user, "end_user"),
        "route": _fit(record.route, "route"),
        "model_group": _fit(record.model_group, "model_group"),
        "deployment_id": _fit(record.deployment_id, "deployment_id"),
        "model": _fit(record.model, "model"),
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "reasoning_tokens": record.reasoning_tokens,
        "total_tokens": record.prompt_tokens + record.completion_tokens,
        "spend": cost,
        "status_code": record.status,
        "error_type": _fit(record.error_type, "error_type"),
        "start_time": start,
        "end_time": datetime.fromtimestamp(record.start + latency, UTC),
        "latency_ms": latency * 1000.0,
        "ttft_ms": ttft * 1000.0 if ttft is not None and math.isfinite(ttft) else None,
        "stream": record.stream,
        "usage_estimated": record.usage_estimated,
        "mock": record.mock,
        "retries": record.retries,
        "fallbacks": record.fallbacks,
    }


class LedgerSink:
    """Each request's record, as a row of the spend ledger."""

    __slots__ = ("writer",)

    def __init__(self, writer: LedgerWriter) -> None:
        self.writer = writer

    def emit(self, record: RequestRecord) -> None:
        self.writer.submit(spend_row(record))

    async def aclose(self) -> None:
        """Flush the ledger (within the writer's ``flush_timeout``) and stop its task."""
        await self.writer.aclose()

    def __repr__(self) -> str:
        return f"LedgerSink({self.writer!r})"
