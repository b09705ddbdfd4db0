"""What the key, team, user and end-user repositories share: a row's times and budget
period, reading one row (locked for the change that follows), checking a reference."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewise.db.transactions import Invalid, NotFound
from gatewise.proxy.access.periods import parse_duration

__all__ = ["fetch", "paged", "require", "stamp", "updated"]

_DEFAULTS = {"models": [], "metadata": {}, "blocked": False}


def _reset_at(duration: str | None, at: datetime) -> datetime | None:
    return parse_duration(duration).after(at) if duration else None


def stamp(values: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """A new row's values: its times, the defaults of what was not given, and the end of
    its first budget period (a budget period starts when the budget is set)."""
    row = {**_DEFAULTS, **values, "created_at": at, "updated_at": at}
    row["budget_reset_at"] = _reset_at(row.get("budget_duration"), at)
    return row


def updated(values: Mapping[str, Any], stored: Any, at: datetime) -> dict[str, Any]:
    """An update's values: a changed ``budget_duration`` starts a new period now."""
    row = {**values, "updated_at": at}
    if "budget_duration" in values and values["budget_duration"] != stored.budget_duration:
        row["budget_reset_at"] = _reset_at(values["budget_duration"], at)
    return row


async def fetch(connection: AsyncConnection, table: sa.Table, column: str, value: Any,
                *, lock: bool = False) -> Any:
    """The row whose ``column`` is ``value``, or None; ``lock``: held (PostgreSQL's FOR
    UPDATE) until the transaction ends, for a read-modify-write."""
    query = sa.select(table).where(table.c[column] == value)
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await connection.execute(query)).first()


async def require(connection: AsyncConnection, table: sa.Table, column: str, value: Any,
                  *, field: str, lock: bool = False,
                  missing: type[Invalid] | type[NotFound] = Invalid) -> Any:
    """The row, or ``missing`` (Invalid: a 400 for a reference; NotFound: a 404 for the
    identity a request is about) naming ``field``."""
    row = await fetch(connection, table, column, value, lock=lock)
    if row is None:
        what = {"gatewise_keys": "key", "gatewise_teams": "team", "gatewise_users": "user",
                "gatewise_customers": "end user"}[table.name]
        message = f"{field}: no {what} {value!r} exists"
        raise missing(field, message)
    return row


async def paged(connection: AsyncConnection, query: sa.Select[Any], page: int, size: int,
                order: list[Any]) -> tuple[list[Any], int]:
    """One page of ``query``'s rows (pages count from 1) and how many rows there are."""
    total = (await connection.execute(
        sa.select(sa.func.count()).select_from(query.subquery()))).scalar_one()
    rows = (await connection.execute(
        query.order_by(*order).limit(size).offset((page - 1) * size))).all()
    return list(rows), int(total)
