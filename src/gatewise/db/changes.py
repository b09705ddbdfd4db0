"""The change list: every management change appends ``(kind, ref)`` to ``gatewise_changes``
in its own transaction, and every process polls :func:`changes_after` to drop what it
cached of those identities.

Ids must become visible in the order they were given, or a poller that has read up to id
11 would never see an id 10 committed after it.  SQLite writes one transaction at a time,
so they do; on PostgreSQL each writer takes a transaction-scoped advisory lock before it
appends, so the next writer draws its id only after the previous one committed.
Management changes are rare: serialising their last step costs nothing that matters.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewise.db.database import Database
from gatewise.db.schema import changes
from gatewise.db.transactions import Change, now, reading

__all__ = ["KEEP_SECONDS", "KINDS", "changes_after", "prune", "record"]

KINDS = ("key", "team", "user", "customer")
_LOCK_ID = 0x67770001  # the change list's advisory lock
_BATCH = 1000
KEEP_SECONDS = 3600.0
"""How long a change stays listed: every process polls the list every second, so a change
an hour old has been seen by every process that is running (one that starts later has
nothing cached that it could make stale)."""


async def record(connection: AsyncConnection, items: Iterable[Change]) -> tuple[Change, ...]:
    """Append the changes inside the caller's transaction; returns them."""
    items = tuple(dict.fromkeys(items))
    if not items:
        return items
    if connection.dialect.name == "postgresql":
        await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_ID)))
    at = now()
    await connection.execute(changes.insert(),
                             [{"kind": kind, "ref": ref, "at": at} for kind, ref in items])
    return items


async def changes_after(database: Database, last_id: int) -> tuple[int, list[Change]]:
    """The changes recorded after ``last_id`` (at most 1,000 at a time) and the id to ask
    after next; ``last_id`` -1 only asks where the list ends now (a process starting up
    has nothing cached to drop)."""
    async with reading(database) as connection:
        if last_id < 0:
            top = (await connection.execute(sa.select(sa.func.max(changes.c.id)))).scalar()
            return int(top or 0), []
        rows = (await connection.execute(
            sa.select(changes.c.id, changes.c.kind, changes.c.ref)
            .where(changes.c.id > last_id).order_by(changes.c.id).limit(_BATCH))).all()
    if not rows:
        return last_id, []
    return int(rows[-1].id), [(row.kind, row.ref) for row in rows]


async def prune(database: Database, keep: float = KEEP_SECONDS) -> int:
    """Forget the changes older than ``keep`` seconds; how many were removed."""
    from datetime import timedelta

    async with database.engine.begin() as connection:
        done = await connection.execute(
            changes.delete().where(changes.c.at < now() - timedelta(seconds=keep)))
    return int(done.rowcount or 0)
