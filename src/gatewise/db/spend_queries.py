"""Reading the spend ledger: the rows of ``GET /spend/logs`` and the daily groups of
``GET /global/spend/report``, in LiteLLM's shapes.

Days are UTC days, grouped by the database (``date()`` in SQLite, ``to_char`` of the UTC
time in PostgreSQL) so the same query answers the same on both.  Shapes follow LiteLLM's
answers field for field where it has the field (``startTime``, ``user``, ``model_group``,
``group_by_day``, ``team_name``, ``total_spend``, ``metadata``...); gatewise adds the
ledger's own columns next to them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, ColumnElement, Select, and_, cast, func, select

from gatewise.db.ledger_batch import as_utc
from gatewise.db.schema import spend_logs, teams

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["GROUPS", "SpendFilter", "find_logs", "spend_report", "summarize_logs"]

GROUPS = ("team", "customer", "api_key", "model")
"""``group_by`` values of the report: LiteLLM's three, and the model group."""

_CALL_TYPES = {"chat": "acompletion", "embeddings": "aembedding",
               "completions": "atext_completion", "moderations": "amoderation",
               "transcription": "atranscription", "ocr": "aocr",
               "passthrough": "pass_through_endpoint"}
_DAY_START = "T00:00:00+00:00"


@dataclass(frozen=True, slots=True)
class SpendFilter:
    """What to select; ``start`` inclusive, ``end`` exclusive (UTC)."""

    api_key: str | None = None  # the key's token
    request_id: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    end_user: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def where(self) -> ColumnElement[bool]:
        c = spend_logs.c
        terms: list[ColumnElement[bool]] = [
            column == value for column, value in (
                (c.api_key, self.api_key), (c.request_id, self.request_id),
                (c.user_id, self.user_id), (c.team_id, self.team_id),
                (c.end_user, self.end_user)) if value is not None]
        if self.start is not None:
            terms.append(c.start_time >= self.start)
        if self.end is not None:
            terms.append(c.start_time < self.end)
        return and_(True, *terms)


def _day(dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", spend_logs.c.start_time), "YYYY-MM-DD")
    return func.date(spend_logs.c.start_time)


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def log_entry(row: Any) -> dict[str, Any]:
    """One ledger row in LiteLLM's ``/spend/logs`` shape, with gatewise's columns."""
    start = as_utc(row.start_time)
    failed = row.status_code >= 400 or row.status_code == 0
    metadata: dict[str, Any] = {"user_api_key_alias": row.key_alias,
                                "user_api_key_team_id": row.team_id,
                                "user_api_key_user_id": row.user_id,
                                "status": "failure" if failed else "success"}
    if failed:
        metadata["error_information"] = {"error_code": str(row.status_code),
                                         "error_class": row.error_type}
    return {
        "request_id": row.request_id,
        "call_type": _CALL_TYPES.get(row.route, row.route),
        "api_key": row.api_key or "",
        "spend": row.spend,
        "total_tokens": row.total_tokens,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "startTime": start.isoformat(),
        "endTime": _iso(row.end_time),
        "completionStartTime": (start + timedelta(milliseconds=row.ttft_ms)).isoformat()
        if row.ttft_ms is not None else None,
        "model": row.model or "",
        "model_id": row.deployment_id,
        "model_group": row.model_group or "",
        "user": row.user_id or "",
        "team_id": row.team_id,
        "end_user": row.end_user or "",
        "status": metadata["status"],
        "cache_hit": "False",
        "request_tags": [],
        "metadata": metadata,
        # gatewise's own columns
        "key_alias": row.key_alias,
        "route": row.route,
        "status_code": row.status_code,
        "error_type": row.error_type,
        "reasoning_tokens": row.reasoning_tokens,
        "latency_ms": row.latency_ms,
        "ttft_ms": row.ttft_ms,
        "stream": bool(row.stream),
        "usage_estimated": bool(row.usage_estimated),
        "mock": bool(row.mock),
        "retries": row.retries,
        "fallbacks": row.fallbacks,
    }


async def find_logs(engine: AsyncEngine, where: SpendFilter, *, limit: int, offset: int = 0
                    ) -> tuple[list[dict[str, Any]], bool]:
    """The matching rows, newest first; and whether there are more after ``limit``."""
    statement = (select(spend_logs).where(where.where())
                 .order_by(spend_logs.c.start_time.desc(), spend_logs.c.request_id)
                 .limit(limit + 1).offset(offset))
    async with engine.connect() as connection:
        rows = (await connection.execute(statement)).all()
    return [log_entry(row) for row in rows[:limit]], len(rows) > limit


def _days(start: datetime, end: datetime) -> list[str]:
    """Every UTC day from ``start`` to the one before ``end`` (exclusive)."""
    first: date = start.astimezone(UTC).date()
    last: date = (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    return [(first + timedelta(days=n)).isoformat()
            for n in range((last - first).days + 1)]


async def summarize_logs(engine: AsyncEngine, where: SpendFilter) -> list[dict[str, Any]]:
    """LiteLLM's ``/spend/logs?start_date=&end_date=`` (``summarize=true``): per day, the
    total spend, the spend of each key (under the key's token), ``users`` and ``models``;
    days without spend are there with zeros."""
    assert where.start is not None and where.end is not None
    c = spend_logs.c
    async with engine.connect() as connection:
        day = _day(connection.dialect.name).label("day")
        rows = (await connection.execute(
            select(day, c.api_key, c.user_id, c.model, func.sum(c.spend).label("spend"))
            .where(where.where()).group_by(day, c.api_key, c.user_id, c.model))).all()
    days: dict[str, dict[str, Any]] = {
        d: {"startTime": d, "spend": 0.0, "users": {}, "models": {}}
        for d in _days(where.start, where.end)}
    for row in rows:
        entry = days.setdefault(str(row.day), {"startTime": str(row.day), "spend": 0.0,
                                               "users": {}, "models": {}})
        entry["spend"] += row.spend
        key = row.api_key or ""
        entry[key] = entry.get(key, 0.0) + row.spend
        user = row.user_id or ""
        entry["users"][user] = entry["users"].get(user, 0.0) + row.spend
        model = row.model or ""
        entry["models"][model] = entry["models"].get(model, 0.0) + row.spend
    return [days[d] for d in sorted(days)]


def _total(column: ColumnElement[int]) -> ColumnElement[int]:
    """A sum of integers as an integer (PostgreSQL's sum of a bigint is a numeric)."""
    return cast(func.sum(column), BigInteger)


def _report_query(dialect: str, group_by: str, where: SpendFilter) -> Select[Any]:
    c = spend_logs.c
    day = _day(dialect).label("day")
    sums = (func.sum(c.spend).label("spend"), _total(c.total_tokens).label("tokens"),
            _total(c.prompt_tokens).label("input_tokens"),
            _total(c.completion_tokens).label("output_tokens"))
    if group_by == "api_key":  # LiteLLM's: one entry a key, not by day
        return (select(c.api_key, c.model, *sums).where(where.where())
                .group_by(c.api_key, c.model))
    if group_by == "team":
        return (select(day, c.team_id, teams.c.team_alias, c.model, c.api_key, *sums)
                .select_from(spend_logs.outerjoin(teams, teams.c.team_id == c.team_id))
                .where(where.where())
                .group_by(day, c.team_id, teams.c.team_alias, c.model, c.api_key))
    group = c.end_user if group_by == "customer" else func.coalesce(c.model_group, c.model)
    return (select(day, group.label("name"), c.model, c.api_key, *sums)
            .where(where.where()).group_by(day, group, c.model, c.api_key))


async def spend_report(engine: AsyncEngine, where: SpendFilter, group_by: str
                       ) -> list[dict[str, Any]]:
    """LiteLLM's ``/global/spend/report``.  ``team``, ``customer`` and ``model``: per UTC
    day, each group's ``total_spend`` and its spend by key and model (``metadata``);
    ``api_key``: per key over the whole range, its cost and tokens by model."""
    async with engine.connect() as connection:
        rows = (await connection.execute(
            _report_query(connection.dialect.name, group_by, where))).all()
    if group_by == "api_key":
        return _by_key(rows)
    field, label = {"team": ("teams", "team_name"), "customer": ("customers", "customer"),
                    "model": ("models", "model_group")}[group_by]
    days: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        if group_by == "team":
            group: tuple[Any, ...] = (row.team_id,)
            first = {label: row.team_alias or row.team_id or "Unassigned Team",
                     "team_id": row.team_id}
        else:
            group = (row.name,)
            first = {label: row.name}
        entry = days[str(row.day)].setdefault(group, {**first, "total_spend": 0.0,
                                                      "metadata": []})
        entry["total_spend"] += row.spend
        entry["metadata"].append({"model": row.model, "api_key": row.api_key,
                                  "spend": row.spend, "total_tokens": row.tokens})
    answer = []
    for day in sorted(days):
        groups = sorted(days[day].values(), key=lambda g: -g["total_spend"])
        for group_entry in groups:
            group_entry["metadata"].sort(key=lambda m: -m["spend"])
        answer.append({"group_by_day": day + _DAY_START, field: groups})
    return answer


def _by_key(rows: Sequence[Any]) -> list[dict[str, Any]]:
    keys: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        entry = keys.setdefault(row.api_key, {
            "api_key": row.api_key, "total_cost": 0.0, "total_input_tokens": 0,
            "total_output_tokens": 0, "model_details": []})
        entry["total_cost"] += row.spend
        entry["total_input_tokens"] += row.input_tokens
        entry["total_output_tokens"] += row.output_tokens
        entry["model_details"].append({
            "model": row.model, "total_cost": row.spend,
            "total_input_tokens": row.input_tokens, "total_output_tokens": row.output_tokens})
    return sorted(keys.values(), key=lambda k: -k["total_cost"])
