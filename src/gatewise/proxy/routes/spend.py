"""``GET /spend/logs`` and ``GET /global/spend/report``: the spend ledger, read back in
LiteLLM's shapes (admin only: the master key, or a key of a ``proxy_admin`` user).

``/spend/logs`` filters by ``api_key`` (the plain key or its token), ``request_id``,
``user_id``, ``team_id``, ``end_user``, ``start_date`` and ``end_date``.  As in LiteLLM,
when both dates are given the answer is a per-day summary unless ``summarize=false``; else
it is the rows themselves, newest first, at most ``limit`` (default 10,000) from ``offset``
-- when more remain, the ``x-gatewise-next-offset`` header says where to go on (LiteLLM
returns every row at once, which a large ledger cannot).

``/global/spend/report`` needs ``start_date`` and ``end_date`` and groups by ``group_by``:
``team`` (LiteLLM's default), ``customer``, ``api_key`` or ``model``; ``api_key``,
``team_id``, ``customer_id`` and ``internal_user_id`` narrow it.

Dates are LiteLLM's ``YYYY-MM-DD`` (a whole UTC day: an ``end_date`` of 2026-12-04 includes
that day), or a date and time (``YYYY-MM-DD HH:MM:SS``, ISO 8601 with an optional offset;
UTC when none).  Anything else, an unknown parameter or an empty value is a 400 naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from gatewise.proxy._asgi import JSON_TYPE, Receive, Scope, Send, respond
from gatewise.proxy.access.identity import require_admin
from gatewise.proxy.errors import ProxyError, bad_request
from gatewise.proxy.state import AppState

if TYPE_CHECKING:
    from gatewise.db.database import Database

__all__ = ["global_spend_report", "spend_logs"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TOKEN = re.compile(r"^[0-9a-f]{64}$")
_TRUE = {"true": True, "1": True, "yes": True, "on": True,
         "false": False, "0": False, "no": False, "off": False}
DEFAULT_LIMIT = 10_000
MAX_LIMIT = 100_000

_LOG_PARAMS = frozenset({"api_key", "request_id", "user_id", "team_id", "end_user",
                         "start_date", "end_date", "summarize", "limit", "offset"})
_REPORT_PARAMS = frozenset({"start_date", "end_date", "group_by", "api_key", "team_id",
                            "customer_id", "internal_user_id"})


def _query(scope: Scope, allowed: frozenset[str]) -> dict[str, str]:
    """The query's parameters (the last of repeated ones); a 400 for any other name or an
    empty value."""
    raw = scope.get("query_string", b"").decode("latin-1")
    try:
        found = parse_qs(raw, keep_blank_values=True, strict_parsing=False,
                         encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise bad_request("the query string is not valid UTF-8") from None
    unknown = sorted(set(found) - allowed)
    if unknown:
        raise bad_request(f"unknown query parameter {unknown[0][:100]!r}: this route takes "
                          f"{', '.join(sorted(allowed))}", param=unknown[0][:100])
    params = {name: values[-1] for name, values in found.items()}
    for name, value in params.items():
        if not value.strip():
            raise bad_request(f"{name} is empty: give a value or leave it out", param=name)
    return params


def parse_when(name: str, text: str, *, end: bool = False) -> datetime:
    """A date or a date and time, in UTC.  An ``end`` is returned exclusive: the day after
    a bare date, a microsecond after a time."""
    try:
        if _DATE.match(text):
            day = datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), time(),
                                   tzinfo=UTC)
            return day + timedelta(days=1) if end else day
        when = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(f"{name} must be a date (YYYY-MM-DD) or a date and time "
                          f"(YYYY-MM-DD HH:MM:SS, or ISO 8601), got {text[:64]!r}",
                          param=name) from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when + timedelta(microseconds=1) if end else when


def _dates(params: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    start = parse_when("start_date", params["start_date"]) if "start_date" in params else None
    end = (parse_when("end_date", params["end_date"], end=True)
           if "end_date" in params else None)
    if start is not None and end is not None and end <= start:
        raise bad_request(f"end_date ({params['end_date'][:64]}) is before start_date "
                          f"({params['start_date'][:64]})", param="end_date")
    return start, end


def _whole(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise bad_request(f"{name} must be a whole number from {low} to {high}, "
                          f"got {text[:32]!r}", param=name)
    return int(text)


def key_token(text: str) -> str:
    """A key's token from what the caller gave: the token itself, or the plain key."""
    if _TOKEN.match(text):
        return text
    from gatewise.proxy.access.secrets import digest

    return digest(text)


def _database(state: AppState) -> Database:
    database = state.db
    if database is None:
        raise ProxyError(503, "this proxy keeps no spend ledger: it has no database (set "
                              "general_settings.database_url, or a master key for the "
                              "embedded SQLite database)",
                         type="api_error", code="no_database")
    return database


def _unavailable(exc: Exception) -> ProxyError:
    from gatewise.db.database import describe

    return ProxyError(503, f"the database is unavailable: {describe(exc)}",
                      type="api_error", code="database_unavailable")


async def spend_logs(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    require_admin(scope)
    params = _query(scope, _LOG_PARAMS)
    start, end = _dates(params)
    summarize = True
    if "summarize" in params:
        summarize_text = params["summarize"].lower()
        if summarize_text not in _TRUE:
            raise bad_request(f"summarize must be true or false, got "
                              f"{params['summarize'][:32]!r}", param="summarize")
        summarize = _TRUE[summarize_text]
    limit = _whole(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _whole(params, "offset", 0, 0, 10**12)
    database = _database(state)
    from sqlalchemy.exc import SQLAlchemyError

    from gatewise.db.spend_queries import SpendFilter, find_logs, summarize_logs

    api_key = params.get("api_key")
    where = SpendFilter(api_key=key_token(api_key) if api_key else None,
                        request_id=params.get("request_id"), user_id=params.get("user_id"),
                        team_id=params.get("team_id"), end_user=params.get("end_user"),
                        start=start, end=end)
    headers = [JSON_TYPE]
    try:
        if start is not None and end is not None and summarize:
            answer: list[dict[str, Any]] = await summarize_logs(database.engine, where)
        else:
            answer, more = await find_logs(database.engine, where, limit=limit,
                                           offset=offset)
            if more:
                headers.append((b"x-gatewise-next-offset", str(offset + limit).encode()))
    except (SQLAlchemyError, OSError) as exc:
        raise _unavailable(exc) from None
    await respond(send, 200, orjson.dumps(answer), headers)


async def global_spend_report(state: AppState, scope: Scope, receive: Receive, send: Send
                              ) -> None:
    require_admin(scope)
    params = _query(scope, _REPORT_PARAMS)
    for name in ("start_date", "end_date"):
        if name not in params:
            raise bad_request(f"{name} is required (YYYY-MM-DD): the report covers "
                              "start_date to end_date", param=name)
    start, end = _dates(params)
    from gatewise.db.spend_queries import GROUPS, SpendFilter, spend_report

    group_by = params.get("group_by", "team")
    if group_by not in GROUPS:
        raise bad_request(f"group_by must be one of {', '.join(GROUPS)}, got "
                          f"{group_by[:64]!r}", param="group_by")
    database = _database(state)
    from sqlalchemy.exc import SQLAlchemyError

    api_key = params.get("api_key")
    where = SpendFilter(api_key=key_token(api_key) if api_key else None,
                        team_id=params.get("team_id"), end_user=params.get("customer_id"),
                        user_id=params.get("internal_user_id"), start=start, end=end)
    try:
        answer = await spend_report(database.engine, where, group_by)
    except (SQLAlchemyError, OSError) as exc:
        raise _unavailable(exc) from None
    await respond(send, 200, orjson.dumps(answer), [JSON_TYPE])
