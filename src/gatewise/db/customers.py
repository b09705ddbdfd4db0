"""End users (LiteLLM's customers: the ``user`` field of a request): create, read, update,
block, delete and list them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from gatewise.db import changes
from gatewise.db._identity import fetch, require, stamp, updated
from gatewise.db.database import Database
from gatewise.db.rows import customer_of
from gatewise.db.schema import customers
from gatewise.db.transactions import Conflict, NotFound, Written, now, reading, writing
from gatewise.proxy.access.entities import Customer

__all__ = ["create_customer", "delete_customers", "get_customer", "list_customers",
           "update_customers"]

UNIQUE = ("user_id",)


async def create_customer(database: Database, values: Mapping[str, Any]) -> Written[Customer]:
    async with writing(database, UNIQUE) as connection:
        user_id = values["user_id"]
        if (await fetch(connection, customers, "user_id", user_id)) is not None:
            raise Conflict("user_id", f"user_id: end user {user_id!r} already exists")
        await connection.execute(customers.insert().values(**stamp(values, now())))
        customer = customer_of(await fetch(connection, customers, "user_id", user_id))
        recorded = await changes.record(connection, [("customer", user_id)])
    return Written(customer, recorded)


async def get_customer(database: Database, user_id: str) -> Customer:
    async with reading(database) as connection:
        return customer_of(await require(connection, customers, "user_id", user_id,
                                         field="end_user_id", missing=NotFound))


async def update_customers(database: Database, user_ids: Sequence[str],
                           values: Mapping[str, Any]) -> Written[list[Customer]]:
    """Apply ``values`` to each end user named (all exist, or a 404 and no change)."""
    async with writing(database, UNIQUE) as connection:
        at = now()
        stored = [await fetch(connection, customers, "user_id", u, lock=True)
                  for u in user_ids]
        missing = [u for u, row in zip(user_ids, stored, strict=True) if row is None]
        if missing:
            field = "user_id" if len(user_ids) == 1 else "user_ids"
            raise NotFound(field, f"{field}: no end user {', '.join(map(repr, missing))}")
        for row in stored:
            await connection.execute(customers.update().where(
                customers.c.user_id == row.user_id).values(**updated(values, row, at)))
        result = [customer_of(await fetch(connection, customers, "user_id", u))
                  for u in user_ids]
        recorded = await changes.record(connection, [("customer", u) for u in user_ids])
    return Written(result, recorded)


async def delete_customers(database: Database, user_ids: Sequence[str]) -> Written[list[str]]:
    async with writing(database, UNIQUE) as connection:
        found = set((await connection.execute(sa.select(customers.c.user_id).where(
            customers.c.user_id.in_(list(user_ids))))).scalars().all())
        missing = [u for u in user_ids if u not in found]
        if missing:
            raise NotFound("user_ids", f"user_ids: no end user {', '.join(map(repr, missing))}")
        await connection.execute(customers.delete().where(
            customers.c.user_id.in_(list(user_ids))))
        recorded = await changes.record(connection, [("customer", u) for u in user_ids])
    return Written(list(dict.fromkeys(user_ids)), recorded)


async def list_customers(database: Database) -> list[Customer]:
    async with reading(database) as connection:
        rows = (await connection.execute(sa.select(customers).order_by(
            customers.c.created_at, customers.c.user_id))).all()
    return [customer_of(row) for row in rows]
