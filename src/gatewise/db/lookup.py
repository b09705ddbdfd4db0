"""What the request path reads, when its cache has not got it: one identity by its id, and
the changes other processes made.  Each is one short query; none runs per request in steady
state (the access layer caches the answers and drops them on change)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from gatewise.db.database import Database
from gatewise.db.schema import changes, customers, keys, teams, users
from gatewise.proxy.access.entities import Budget, Customer, Key, Team, User

__all__ = ["Lookup"]


def _utc(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were written as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def budget_of(row: Any) -> Budget:
    return Budget(max_budget=row.max_budget, budget_duration=row.budget_duration,
                  budget_reset_at=_utc(row.budget_reset_at), spend=row.spend or 0.0,
                  rpm_limit=row.rpm_limit, tpm_limit=row.tpm_limit,
                  max_parallel_requests=row.max_parallel_requests)


def key_of(row: Any) -> Key:
    return Key(token=row.token, key_name=row.key_name, key_alias=row.key_alias,
               models=tuple(row.models or ()), budget=budget_of(row),
               expires=_utc(row.expires), blocked=bool(row.blocked), team_id=row.team_id,
               user_id=row.user_id, metadata=dict(row.metadata or {}),
               created_at=_utc(row.created_at), updated_at=_utc(row.updated_at))


def team_of(row: Any) -> Team:
    return Team(team_id=row.team_id, team_alias=row.team_alias, models=tuple(row.models or ()),
                budget=budget_of(row), blocked=bool(row.blocked),
                members=tuple(row.members or ()), metadata=dict(row.metadata or {}))


def user_of(row: Any) -> User:
    return User(user_id=row.user_id, user_email=row.user_email, user_role=row.user_role,
                models=tuple(row.models or ()), budget=budget_of(row),
                blocked=bool(row.blocked), teams=tuple(row.teams or ()),
                metadata=dict(row.metadata or {}))


def customer_of(row: Any) -> Customer:
    return Customer(user_id=row.user_id, alias=row.alias, budget=budget_of(row),
                    blocked=bool(row.blocked), metadata=dict(row.metadata or {}))


class Lookup:
    """The access layer's reads (``gatewise.proxy.access.cache.IdentitySource``)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def _one(self, query: sa.Select[Any]) -> Any:
        async with self.database.engine.connect() as connection:
            return (await connection.execute(query)).first()

    async def key(self, token: str) -> Key | None:
        row = await self._one(sa.select(keys).where(keys.c.token == token))
        return None if row is None else key_of(row)

    async def team(self, team_id: str) -> Team | None:
        row = await self._one(sa.select(teams).where(teams.c.team_id == team_id))
        return None if row is None else team_of(row)

    async def user(self, user_id: str) -> User | None:
        row = await self._one(sa.select(users).where(users.c.user_id == user_id))
        return None if row is None else user_of(row)

    async def customer(self, user_id: str) -> Customer | None:
        row = await self._one(sa.select(customers).where(customers.c.user_id == user_id))
        return None if row is None else customer_of(row)

    async def changes_after(self, last_id: int) -> tuple[int, list[tuple[str, str]]]:
        """The changes recorded since ``last_id`` (at most 1,000 at a time), and the id to
        ask after next; ``last_id`` -1 asks only where the list ends now."""
        async with self.database.engine.connect() as connection:
            if last_id < 0:
                top = (await connection.execute(sa.select(sa.func.max(changes.c.id)))).scalar()
                return int(top or 0), []
            rows = (await connection.execute(
                sa.select(changes.c.id, changes.c.kind, changes.c.ref)
                .where(changes.c.id > last_id).order_by(changes.c.id).limit(1000))).all()
        if not rows:
            return last_id, []
        return int(rows[-1].id), [(row.kind, row.ref) for row in rows]
