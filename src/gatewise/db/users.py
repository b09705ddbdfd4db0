"""Users: create (with a first key, as LiteLLM's ``/user/new`` does), read, update, delete
and list them.  Deleting a user deletes their keys and takes them out of their teams."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gatewise.db import changes
from gatewise.db._identity import fetch, paged, require, stamp, updated
from gatewise.db.database import Database
from gatewise.db.keys import insert_key, keys_of
from gatewise.db.members import join, leave
from gatewise.db.rows import team_of, user_of
from gatewise.db.schema import keys, teams, users
from gatewise.db.transactions import Change, Conflict, NotFound, Written, now, reading, writing
from gatewise.proxy.access.entities import Key, Team, User

__all__ = ["NewKey", "UserInfo", "create_user", "delete_users", "get_user", "list_users",
           "update_user"]

UNIQUE = ("user_id", "token", "key_alias")


@dataclass(frozen=True, slots=True)
class NewKey:
    """The key to make with a new user: its token, name and column values."""

    token: str
    key_name: str
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class UserInfo:
    user: User
    keys: list[Key]
    teams: list[Team]


async def create_user(database: Database, values: Mapping[str, Any],
                      team_ids: Sequence[str] = (), key: NewKey | None = None,
                      created_by: str | None = None) -> Written[tuple[User, Key | None]]:
    """Create the user, make them a member (role ``user``) of ``team_ids``, and make
    ``key`` for them."""
    async with writing(database, UNIQUE) as connection:
        user_id = values["user_id"]
        if (await fetch(connection, users, "user_id", user_id)) is not None:
            raise Conflict("user_id", f"user_id {user_id!r} is already taken")
        team_rows = [await require(connection, teams, "team_id", t, field="teams", lock=True)
                     for t in team_ids]
        await connection.execute(users.insert().values(**stamp({**values, "teams": []},
                                                               now())))
        changed: list[Change] = [("user", user_id)]
        for team in team_rows:
            await join(connection, team, await fetch(connection, users, "user_id", user_id),
                       "user", changed)
        made = None
        if key is not None:
            made = await insert_key(connection, key.token, key.key_name,
                                    {**key.values, "user_id": user_id}, created_by)
            changed.append(("key", key.token))
        user = user_of(await fetch(connection, users, "user_id", user_id))
        recorded = await changes.record(connection, changed)
    return Written((user, made), recorded)


async def _find(connection: Any, user_id: str | None, user_email: str | None,
                lock: bool = False) -> Any:
    if user_id is not None:
        return await require(connection, users, "user_id", user_id, field="user_id",
                             lock=lock, missing=NotFound)
    row = (await connection.execute(sa.select(users).where(users.c.user_email == user_email)
                                    .order_by(users.c.created_at).limit(1))).first()
    if row is None:
        raise NotFound("user_email", f"user_email: no user {user_email!r} exists")
    return row


async def get_user(database: Database, user_id: str) -> UserInfo:
    async with reading(database) as connection:
        row = await _find(connection, user_id, None)
        found = (await connection.execute(sa.select(teams).where(
            teams.c.team_id.in_(list(row.teams or ()))).order_by(teams.c.team_id))).all()
        return UserInfo(user_of(row), await keys_of(connection, user_id=user_id),
                        [team_of(t) for t in found])


async def update_user(database: Database, values: Mapping[str, Any], *,
                      user_id: str | None = None, user_email: str | None = None
                      ) -> Written[User]:
    """Update the user named by ``user_id`` (else the first with ``user_email``)."""
    async with writing(database, UNIQUE) as connection:
        stored = await _find(connection, user_id, user_email, lock=True)
        await connection.execute(users.update().where(users.c.user_id == stored.user_id)
                                 .values(**updated(values, stored, now())))
        user = user_of(await fetch(connection, users, "user_id", stored.user_id))
        recorded = await changes.record(connection, [("user", stored.user_id)])
    return Written(user, recorded)


async def delete_users(database: Database, user_ids: Sequence[str]) -> Written[list[str]]:
    """Delete the users, their keys and their memberships; all or nothing."""
    async with writing(database, UNIQUE) as connection:
        rows = [await fetch(connection, users, "user_id", u, lock=True) for u in user_ids]
        missing = [u for u, row in zip(user_ids, rows, strict=True) if row is None]
        if missing:
            raise NotFound("user_ids", f"user_ids: no user {', '.join(map(repr, missing))}")
        changed: list[Change] = []
        for row in rows:
            for team_id in row.teams or ():
                await leave(connection, team_id, row.user_id, changed)
        tokens = (await connection.execute(sa.select(keys.c.token).where(
            keys.c.user_id.in_(user_ids)))).scalars().all()
        await connection.execute(keys.delete().where(keys.c.user_id.in_(user_ids)))
        await connection.execute(users.delete().where(users.c.user_id.in_(user_ids)))
        changed += [("key", t) for t in tokens] + [("user", u) for u in user_ids]
        recorded = await changes.record(connection, changed)
    return Written(list(dict.fromkeys(user_ids)), recorded)


async def list_users(database: Database, *, page: int = 1, size: int = 25,
                     role: str | None = None, user_ids: Sequence[str] | None = None
                     ) -> tuple[list[User], int]:
    query = sa.select(users)
    if role is not None:
        query = query.where(users.c.user_role == role)
    if user_ids is not None:
        query = query.where(users.c.user_id.in_(list(user_ids)))
    async with reading(database) as connection:
        rows, total = await paged(connection, query, page, size,
                                  [users.c.created_at.desc(), users.c.user_id])
    return [user_of(row) for row in rows], total
