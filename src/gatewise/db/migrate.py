"""Bring a database's schema to the latest version, one process at a time.

The proxy runs this at startup (its workers too, each a no-op once the first is done) and
``gatewise db upgrade`` runs it for operators who migrate separately.  Concurrent starts are
serialised: PostgreSQL by an advisory lock held for the migration's transaction, SQLite by
an exclusive lock on a file next to the database (SQLite's own locking would turn two
concurrent upgrades into a "database is locked" error rather than a wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["SCHEMA_VERSION", "VERSION_TABLE", "current_revision", "head_revision",
           "is_current", "upgrade"]

VERSION_TABLE = "gatewise_alembic_version"
SCHEMA_VERSION = "0001"
"""The latest migration's revision (a test holds it to Alembic's head): a database already
there is opened without loading Alembic at all (a quarter of a second of imports)."""
_LOCK_ID = 0x6761746577697365  # "gatewise": the advisory lock's key


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "gatewise.db:migrations")
    return config


def head_revision() -> str:
    """The latest version the package knows (from the migrations themselves)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _upgrade(connection: Connection) -> None:
    from alembic import command

    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


@contextlib.contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    if path is None:  # :memory:
        yield
        return
    with open(path.with_name(path.name + ".migrate-lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


async def is_current(engine: AsyncEngine) -> bool:
    """Whether the database is at :data:`SCHEMA_VERSION` (one plain query)."""
    try:
        async with engine.connect() as connection:
            found = (await connection.execute(
                sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))).scalars().all()
    except DBAPIError:
        return False  # no version table yet
    return found == [SCHEMA_VERSION]


async def upgrade(engine: AsyncEngine, sqlite_path: Path | None = None) -> None:
    """Apply every migration the database lacks (nothing when it is up to date)."""
    if engine.dialect.name != "sqlite":
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
        return
    lock = _file_lock(sqlite_path)
    await asyncio.to_thread(lock.__enter__)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
    finally:
        lock.__exit__(None, None, None)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's version (None: no gatewise schema yet)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)
