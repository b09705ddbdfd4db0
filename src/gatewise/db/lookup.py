"""What the request path reads, when its cache has not got it: one identity by its id, and
the changes other processes made.  Each is one short query; none runs per request in steady
state (the access layer caches the answers and drops them on change)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gatewise.db.changes import changes_after, prune
from gatewise.db.database import Database
from gatewise.db.rows import customer_of, key_of, team_of, user_of
from gatewise.db.schema import customers, keys, teams, users
from gatewise.proxy.access.entities import Customer, Key, Team, User

__all__ = ["Lookup"]


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
        """See :func:`gatewise.db.changes.changes_after`."""
        return await changes_after(self.database, last_id)

    async def prune_changes(self) -> int:
        """See :func:`gatewise.db.changes.prune`."""
        return await prune(self.database)
