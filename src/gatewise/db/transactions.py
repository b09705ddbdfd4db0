"""Transactions for the management API, with the database's failures made typed.

A management change reads what it needs and writes in one transaction (on SQLite one that
takes the write lock at once: see ``database.IMMEDIATE``).  Whatever goes wrong on the
database's side becomes one of four exceptions, each answered with its own status by the
routes, never a 500 with a traceback:

* :class:`DatabaseUnavailable` (503): cannot connect, disk full, read-only file, ...
* :class:`Conflict` (409): a unique value (an alias, an id, a key) is taken;
* :class:`NotFound` (404): the key, team, user or end user named does not exist;
* :class:`Invalid` (400): the change refers to something that does not exist, or breaks a
  rule only the stored data can tell (a key's models outside its team's).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewise.db.database import IMMEDIATE, Database, DatabaseUnavailable, describe

__all__ = ["Change", "Conflict", "DatabaseUnavailable", "Invalid", "NotFound", "Written",
           "now", "reading", "writing"]

T = TypeVar("T")
Change = tuple[str, str]
"""``(kind, ref)``: kind is key / team / user / customer, ref its id (a key: its token)."""


class Conflict(Exception):
    """A value that must be unique is taken (409)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Invalid(Exception):
    """The change cannot be made as asked: a reference to nothing, a broken rule (400)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotFound(Exception):
    """The identity the request names does not exist (404)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Written(Generic[T]):
    """What a change returns, and the changes it recorded (for the caches to drop)."""

    value: T
    changes: tuple[Change, ...]


def now() -> datetime:
    return datetime.now(UTC)


def _conflict(exc: IntegrityError, fields: Sequence[str]) -> Exception:
    text = describe(exc)
    if "foreign key" in text.lower():
        return Invalid(None, "a team or user the request refers to was deleted meanwhile")
    field = next((f for f in fields if f in text), fields[0] if fields else "id")
    return Conflict(field, f"`{field}` is already taken: it must be unique")


@contextlib.asynccontextmanager
async def reading(database: Database) -> AsyncIterator[AsyncConnection]:
    """A connection for reads."""
    try:
        async with database.engine.connect() as connection:
            yield connection
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise DatabaseUnavailable(f"{database.url.shown}: {describe(exc)}") from None


@contextlib.asynccontextmanager
async def writing(database: Database, unique: Sequence[str] = ()
                  ) -> AsyncIterator[AsyncConnection]:
    """One transaction, committed when the block ends; ``unique``: the fields a unique
    violation may be about (the first: the primary key), to name the one taken."""
    try:
        async with database.engine.connect() as connection:
            if database.backend == "sqlite":
                await connection.execution_options(**{IMMEDIATE: True})
            async with connection.begin():
                yield connection
    except IntegrityError as exc:
        raise _conflict(exc, unique) from None
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise DatabaseUnavailable(f"{database.url.shown}: {describe(exc)}") from None
