"""Virtual keys: create, read, update, regenerate, delete and list them.

A key is stored by its token (the SHA-256 digest of the key) only; where a request names a
key, ``ref`` may be the plain key or its token, as LiteLLM accepts both.  ``values`` are
column values already validated by the caller (``gatewise.proxy.routes``); these functions
check what only the stored data can tell (the team and user exist, the key's models are
among its team's, the alias is free) and record each change for the caches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewise.db import changes
from gatewise.db._identity import fetch, paged, require, stamp, updated
from gatewise.db.database import Database
from gatewise.db.rows import key_of
from gatewise.db.schema import keys, teams, users
from gatewise.db.transactions import Conflict, Invalid, NotFound, Written, now, reading, writing
from gatewise.proxy.access.entities import Key
from gatewise.proxy.access.secrets import digest

__all__ = [
    "create_key",
    "delete_keys",
    "get_key",
    "keys_of",
    "list_keys",
    "regenerate_key",
    "token_of",
    "update_key",
]

UNIQUE = ("token", "key_alias")


_TOKEN = re.compile(r"^[0-9a-f]{64}$")


def token_of(ref: str) -> str:
    """The token a request's reference to a key means: a token as it is, a key by its
    digest (a key always starts with ``sk-``, so it is never mistaken for a token).  The
    plain key itself never reaches a query, where a driver's debug log or the server's
    statement log could show it."""
    return ref if _TOKEN.match(ref) else digest(ref)


def _by_ref(ref: str) -> sa.ColumnElement[bool]:
    return keys.c.token == token_of(ref)


async def _find(connection: AsyncConnection, ref: str, field: str = "key", *,
                lock: bool = False) -> Any:
    query = sa.select(keys).where(_by_ref(ref))
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await connection.execute(query)).first()
    if row is None:
        raise NotFound(field, f"{field}: no such key (give the key or its token)")
    return row


async def _check(connection: AsyncConnection, row: Mapping[str, Any],
                 changed: Mapping[str, Any], own: str | None = None) -> None:
    """The team and user a key names exist, its alias is free, its models are its team's."""
    if changed.get("team_id") is not None or (changed.get("models") and row.get("team_id")):
        team = await require(connection, teams, "team_id", row["team_id"], field="team_id")
        outside = [m for m in row.get("models") or () if team.models and m not in team.models]
        if outside:
            raise Invalid("models", f"models: {', '.join(outside)} not among the models of "
                                    f"team {team.team_id!r} ({', '.join(team.models)})")
    if changed.get("user_id") is not None:
        await require(connection, users, "user_id", row["user_id"], field="user_id")
    alias = changed.get("key_alias")
    if alias is not None:
        taken = (await connection.execute(sa.select(keys.c.token).where(
            keys.c.key_alias == alias, keys.c.token != (own or row["token"])))).first()
        if taken is not None:
            raise Conflict("key_alias", f"key_alias {alias!r} is already used by another key")


async def insert_key(connection: AsyncConnection, token: str, key_name: str,
                     values: Mapping[str, Any], created_by: str | None) -> Key:
    """Insert a key inside the caller's transaction (``/user/new`` makes one too)."""
    if (await fetch(connection, keys, "token", token)) is not None:
        raise Conflict("key", "key: a key with this value already exists")
    row = {**stamp(values, now()), "token": token, "key_name": key_name,
           "created_by": created_by}
    await _check(connection, row, row)
    await connection.execute(keys.insert().values(**row))
    return key_of(await fetch(connection, keys, "token", token))


async def create_key(database: Database, token: str, key_name: str, values: Mapping[str, Any],
                     created_by: str | None = None) -> Written[Key]:
    async with writing(database, UNIQUE) as connection:
        key = await insert_key(connection, token, key_name, values, created_by)
        recorded = await changes.record(connection, [("key", token)])
    return Written(key, recorded)


async def get_key(database: Database, ref: str) -> Key:
    async with reading(database) as connection:
        return key_of(await _find(connection, ref))


async def update_key(database: Database, ref: str, values: Mapping[str, Any]) -> Written[Key]:
    async with writing(database, UNIQUE) as connection:
        stored = await _find(connection, ref, lock=True)
        row = updated(values, stored, now())
        await _check(connection, {**stored._mapping, **row}, row)
        await connection.execute(keys.update().where(keys.c.token == stored.token).values(**row))
        key = key_of(await fetch(connection, keys, "token", stored.token))
        recorded = await changes.record(connection, [("key", stored.token)])
    return Written(key, recorded)


async def regenerate_key(database: Database, ref: str, token: str, key_name: str,
                         values: Mapping[str, Any]) -> Written[Key]:
    """Give the key a new value (and token): the old one stops working at once."""
    async with writing(database, UNIQUE) as connection:
        stored = await _find(connection, ref, lock=True)
        if token != stored.token and (await fetch(connection, keys, "token", token)) is not None:
            raise Conflict("new_key", "new_key: a key with this value already exists")
        row = {**updated(values, stored, now()), "token": token, "key_name": key_name}
        await _check(connection, {**stored._mapping, **row}, row, own=stored.token)
        await connection.execute(keys.update().where(keys.c.token == stored.token).values(**row))
        key = key_of(await fetch(connection, keys, "token", token))
        recorded = await changes.record(connection, [("key", stored.token), ("key", token)])
    return Written(key, recorded)


async def delete_keys(database: Database, refs: Sequence[str] = (),
                      aliases: Sequence[str] = ()) -> Written[list[str]]:
    """Delete every key named (by key or token, or by alias), or none of them: a 404 names
    the ones that do not exist.  Returns the tokens deleted."""
    async with writing(database, UNIQUE) as connection:
        tokens: list[str] = []
        for i, ref in enumerate(refs):
            tokens.append((await _find(connection, ref, f"keys[{i}]", lock=True)).token)
        if aliases:
            found = {row.key_alias: row.token for row in (await connection.execute(
                sa.select(keys.c.key_alias, keys.c.token)
                .where(keys.c.key_alias.in_(aliases)))).all()}
            missing = [a for a in aliases if a not in found]
            if missing:
                raise NotFound("key_aliases",
                               f"key_aliases: no key has the alias {', '.join(missing)}")
            tokens += [found[a] for a in aliases]
        tokens = list(dict.fromkeys(tokens))
        await connection.execute(keys.delete().where(keys.c.token.in_(tokens)))
        recorded = await changes.record(connection, [("key", t) for t in tokens])
    return Written(tokens, recorded)


async def list_keys(database: Database, *, page: int = 1, size: int = 10,
                    user_id: str | None = None, team_id: str | None = None,
                    key_alias: str | None = None, token: str | None = None
                    ) -> tuple[list[Key], int]:
    """One page of keys, newest first, and how many match."""
    query = sa.select(keys)
    for column, value in (("user_id", user_id), ("team_id", team_id),
                          ("key_alias", key_alias), ("token", token)):
        if value is not None:
            query = query.where(keys.c[column] == value)
    async with reading(database) as connection:
        rows, total = await paged(connection, query, page, size,
                                  [keys.c.created_at.desc(), keys.c.token])
    return [key_of(row) for row in rows], total


async def keys_of(connection: AsyncConnection, *, team_id: str | None = None,
                  user_id: str | None = None) -> list[Key]:
    """The keys of a team or of a user (for their info answers)."""
    column = keys.c.team_id if team_id is not None else keys.c.user_id
    rows = (await connection.execute(sa.select(keys).where(column == (team_id or user_id))
                                     .order_by(keys.c.created_at, keys.c.token))).all()
    return [key_of(row) for row in rows]
