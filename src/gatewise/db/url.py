"""The database URL: ``sqlite:///path.db`` or ``postgresql://user:pass@host:port/db``.

``DatabaseURL`` keeps the URL as given and the SQLAlchemy form of it (the async drivers:
aiosqlite, asyncpg); its ``repr`` and ``shown`` never include the password, so it can be
logged, announced at startup and put in error messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

__all__ = ["DEFAULT_SQLITE_NAME", "DatabaseURL", "default_sqlite_url", "parse_database_url"]

DEFAULT_SQLITE_NAME = "gatewise.db"
"""The embedded database's file name, next to the config file (or in the working directory
when the proxy runs without one)."""

_SCHEMES = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql"}
_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A checked database URL.  ``backend`` is ``sqlite`` or ``postgresql``."""

    backend: str
    sqlalchemy: str = field(repr=False)  # holds the password
    shown: str
    path: Path | None = None  # the SQLite file

    def __repr__(self) -> str:
        return f"DatabaseURL({self.shown!r})"

    __str__ = __repr__


def parse_database_url(text: str, *, base: Path | None = None) -> DatabaseURL:
    """Check ``text``; ``ValueError`` says what is wrong (never quoting the password).

    A relative SQLite path (``sqlite:///gatewise.db``) is taken relative to ``base`` (the
    config file's directory) when given, else the working directory; ``sqlite:////abs``
    and ``sqlite:///:memory:`` as in SQLAlchemy.
    """
    text = text.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower().split("+", 1)[0]
    backend = _SCHEMES.get(scheme)
    if not sep or backend is None:
        raise ValueError("must be sqlite:///path/to/file.db or "
                         "postgresql://user:password@host:port/database, got "
                         f"{_without_password(text)!r}")
    if backend == "sqlite":
        location = rest[1:] if rest.startswith("/") else rest
        if not location:
            raise ValueError("sqlite:/// needs a file path, e.g. sqlite:///gatewise.db")
        if location == ":memory:":
            return DatabaseURL("sqlite", "sqlite+aiosqlite:///:memory:", "sqlite:///:memory:")
        path = Path(unquote(location))
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        return DatabaseURL("sqlite", f"sqlite+aiosqlite:///{path}", f"sqlite:///{path}", path)
    parts = urlsplit("postgresql://" + rest)
    if not parts.hostname or not parts.path.strip("/"):
        raise ValueError("a PostgreSQL URL needs a host and a database name: "
                         "postgresql://user:password@host:port/database")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise ValueError(f"the port in {_without_password(text)!r} is not a number "
                         "from 1 to 65535") from None
    return DatabaseURL("postgresql", f"{_DRIVERS['postgresql']}://{rest}",
                       _without_password(f"postgresql://{rest}"))


def default_sqlite_url(config_path: Path | None) -> DatabaseURL:
    """The embedded default: ``gatewise.db`` next to the config file, or in the working
    directory for a proxy started without one."""
    folder = config_path.resolve().parent if config_path is not None else Path.cwd()
    path = folder / DEFAULT_SQLITE_NAME
    return DatabaseURL("sqlite", f"sqlite+aiosqlite:///{path}", f"sqlite:///{path}", path)


def _without_password(text: str) -> str:
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text
    credentials, at, host = rest.rpartition("@")
    if not at:
        return text
    user, colon, _ = credentials.partition(":")
    return f"{scheme}://{quote(unquote(user), safe='')}{':***' if colon else ''}@{host}"
