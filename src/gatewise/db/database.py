"""``Database``: the async engine for a :class:`DatabaseURL`, opened and migrated.

SQLite gets what makes it a sound embedded store: write-ahead logging (readers never wait
for the writer, and a ``kill -9`` loses nothing committed), ``synchronous=NORMAL``, a busy
timeout instead of instant "database is locked" errors, foreign keys on, and real
transactions around DDL (pysqlite's legacy mode would run it outside any transaction).
PostgreSQL gets a small pool that checks connections before use, so a restarted server
costs one failed check, not a failed query.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gatewise.db.migrate import is_current, upgrade
from gatewise.db.url import DatabaseURL

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["Database", "DatabaseUnavailable"]

logger = logging.getLogger("gatewise.db")
BUSY_TIMEOUT_MS = 5000


class DatabaseUnavailable(Exception):
    """The database cannot be reached or used; the message says why (no password)."""


def describe(exc: BaseException) -> str:
    """A database error in one line, for logs and answers: its kind and the driver's
    reason (SQLAlchemy's own text repeats the statement and its parameters)."""
    original: Any = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return f"{type(original).__name__}: {text}"[:300]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions are ours (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={BUSY_TIMEOUT_MS}",
                   "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


class Database:
    """An opened database.  ``open()`` connects and migrates; ``close()`` disposes."""

    def __init__(self, url: DatabaseURL, engine: AsyncEngine) -> None:
        self.url = url
        self.engine = engine

    @property
    def backend(self) -> str:
        return self.url.backend

    @classmethod
    def create(cls, url: DatabaseURL) -> Database:
        """The engine, without any I/O yet."""
        if url.backend == "sqlite":
            engine = create_async_engine(url.sqlalchemy)
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(engine.sync_engine, "begin", _sqlite_begin)
        else:
            engine = create_async_engine(
                url.sqlalchemy, pool_size=5, max_overflow=10, pool_pre_ping=True,
                pool_timeout=10, connect_args={"timeout": 10, "command_timeout": 60})
        return cls(url, engine)

    @classmethod
    async def open(cls, url: DatabaseURL, *, migrate: bool = True) -> Database:
        """Connect (creating an SQLite file's folder if needed) and bring the schema up to
        date; :class:`DatabaseUnavailable` if that cannot be done."""
        if url.path is not None:
            try:
                url.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseUnavailable(
                    f"cannot create the folder of {url.shown}: {exc.strerror}") from None
        database = cls.create(url)
        try:
            if migrate and not await is_current(database.engine):
                await upgrade(database.engine, url.path)
            else:
                async with database.engine.connect():
                    pass
        except (SQLAlchemyError, DBAPIError, OSError) as exc:
            await database.close()
            raise DatabaseUnavailable(f"{url.shown}: {describe(exc)}") from None
        return database

    async def close(self) -> None:
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.shown!r})"
