"""``gatewise db upgrade`` / ``gatewise db current``: the schema, for operators who migrate
separately from starting the proxy (it also migrates at startup).

The database is the one the proxy would use: ``--database-url``, else the config's
``general_settings.database_url`` or ``DATABASE_URL``, else the embedded SQLite default of a
config with a master key.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatewise db",
                                     description="Manage the proxy's database schema.")
    parser.add_argument("action", choices=("upgrade", "current"),
                        help="upgrade: apply the migrations the database lacks; current: "
                             "print its version and the latest")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", "-c", metavar="PATH", help="the proxy's YAML config")
    source.add_argument("--database-url", metavar="URL",
                        help="sqlite:///path.db or postgresql://user:pass@host:port/db")
    return parser


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    from gatewise.db.url import DatabaseURL, parse_database_url

    url: DatabaseURL | None
    if args.database_url:
        try:
            url = parse_database_url(args.database_url)
        except ValueError as exc:
            _say(f"gatewise db: --database-url {exc}")
            return 2
    else:
        from gatewise.proxy.config import ConfigError, load_config

        if not args.config:
            _say("gatewise db: give --config PATH or --database-url URL")
            return 2
        try:
            url = load_config(args.config).database()
        except ConfigError as exc:
            _say("gatewise db: the config cannot be used:\n  " + "\n  ".join(exc.problems))
            return 2
        if url is None:
            _say("gatewise db: this config uses no database (no database_url, no master key)")
            return 2
    return asyncio.run(_run(args.action, url))


async def _run(action: str, url: object) -> int:
    from gatewise.db.database import Database, DatabaseUnavailable
    from gatewise.db.migrate import current_revision, head_revision
    from gatewise.db.url import DatabaseURL

    assert isinstance(url, DatabaseURL)
    try:
        database = await Database.open(url, migrate=action == "upgrade")
    except DatabaseUnavailable as exc:
        _say(f"gatewise db: {exc}")
        return 1
    try:
        current = await current_revision(database.engine)
    finally:
        await database.close()
    head = head_revision()
    if action == "upgrade":
        _say(f"gatewise db: {url.shown} is at the latest version ({head})")
        return 0
    print(f"{url.shown}: version {current or '(none)'}; latest {head}")
    return 0 if current == head else 3
