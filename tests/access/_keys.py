"""Keys, teams and users written straight into the database, for the request-path tests
(the management API has its own tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from gatewise.db.database import Database
from gatewise.db.schema import changes, customers, keys, teams, users
from gatewise.proxy.access.secrets import digest, key_name, new_key


def _now() -> datetime:
    return datetime.now(UTC)


def _common(fields: dict[str, Any]) -> dict[str, Any]:
    now = _now()
    return {"models": [], "metadata": {}, "blocked": False, "spend": 0.0, "created_at": now,
            "updated_at": now, **fields}


async def add_key(db: Database, **fields: Any) -> str:
    """A new key with ``fields`` (columns of gatewise_keys); returns the plain key."""
    key = fields.pop("key", None) or new_key()
    async with db.engine.begin() as connection:
        await connection.execute(sa.insert(keys).values(
            token=digest(key), key_name=key_name(key), **_common(fields)))
    return key


async def add_team(db: Database, team_id: str, **fields: Any) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(sa.insert(teams).values(
            team_id=team_id, members=[], **_common(fields)))


async def add_user(db: Database, user_id: str, **fields: Any) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(sa.insert(users).values(
            user_id=user_id, user_role=fields.pop("user_role", "internal_user"), teams=[],
            **_common(fields)))


async def add_customer(db: Database, user_id: str, **fields: Any) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(sa.insert(customers).values(user_id=user_id,
                                                             **_common(fields)))


async def update_key(db: Database, key: str, **fields: Any) -> None:
    """Change a key behind the proxy's back, and record the change (as the API does)."""
    async with db.engine.begin() as connection:
        await connection.execute(sa.update(keys).where(keys.c.token == digest(key))
                                 .values(**fields))
        await connection.execute(sa.insert(changes).values(kind="key", ref=digest(key),
                                                           at=_now()))
