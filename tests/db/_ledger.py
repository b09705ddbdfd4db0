"""Helpers for the ledger tests: identities in the database, records, polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from gatewise.db.database import Database
from gatewise.db.schema import customers, keys, spend_logs, teams, users
from gatewise.proxy.record import RequestRecord

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _identity(**values: Any) -> dict[str, Any]:
    return {"models": [], "metadata": {}, "created_at": NOW, "updated_at": NOW, **values}


async def add_identities(database: Database, *, key: str = "k" * 64, team: str = "team-a",
                         user: str = "user-a", customer: str = "cust-a",
                         **budget: Any) -> None:
    """A team, a user, a key of both, and an end user (``budget``: columns for all)."""
    async with database.engine.begin() as connection:
        await connection.execute(sa.insert(teams).values(
            _identity(team_id=team, members=[], **budget)))
        await connection.execute(sa.insert(users).values(
            _identity(user_id=user, user_role="internal_user", teams=[team], **budget)))
        await connection.execute(sa.insert(keys).values(
            _identity(token=key, key_name="sk-...abcd", team_id=team, user_id=user,
                      **budget)))
        await connection.execute(sa.insert(customers).values(
            _identity(user_id=customer, **budget)))


async def spend_of(database: Database) -> dict[str, float]:
    """``kind:id -> spend`` of every identity."""
    found: dict[str, float] = {}
    async with database.engine.connect() as connection:
        for kind, table, column in (("key", keys, "token"), ("team", teams, "team_id"),
                                    ("user", users, "user_id"),
                                    ("customer", customers, "user_id")):
            for ref, spend in await connection.execute(sa.select(table.c[column],
                                                                 table.c.spend)):
                found[f"{kind}:{ref}"] = spend
    return found


async def ledger_rows(database: Database) -> list[dict[str, Any]]:
    async with database.engine.connect() as connection:
        result = await connection.execute(sa.select(spend_logs)
                                          .order_by(spend_logs.c.request_id))
        return [dict(row) for row in result.mappings()]


def record(call_id: str, *, cost: float = 0.25, key: str | None = "k" * 64,
           team: str | None = "team-a", user: str | None = "user-a",
           end_user: str | None = "cust-a", **fields: Any) -> RequestRecord:
    return RequestRecord(call_id=call_id, route="chat", start=NOW.timestamp(), key_id=key,
                         team_id=team, user_id=user, end_user=end_user, cost=cost,
                         status=200, model_group="small", model="mistral-small-latest",
                         prompt_tokens=10, completion_tokens=5, latency=0.5, **fields)


async def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``check`` until it holds (a generous deadline, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.02)
