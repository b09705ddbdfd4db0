"""The database foundation on both backends: URLs, opening, migrations, the schema."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from gatewise.db.database import Database, DatabaseUnavailable
from gatewise.db.migrate import VERSION_TABLE, current_revision, head_revision, upgrade
from gatewise.db.schema import metadata
from gatewise.db.url import default_sqlite_url, parse_database_url


def test_urls_never_show_the_password() -> None:
    url = parse_database_url("postgresql://app:s3cret-pw@db.internal:5433/gw")
    assert url.backend == "postgresql"
    assert "s3cret-pw" not in repr(url) and "s3cret-pw" not in url.shown
    assert url.shown == "postgresql://app:***@db.internal:5433/gw"
    assert url.sqlalchemy.startswith("postgresql+asyncpg://app:s3cret-pw@")
    assert parse_database_url("postgres://u@h/d").backend == "postgresql"


def test_sqlite_paths(tmp_path: Path) -> None:
    assert parse_database_url("sqlite:///rel.db", base=tmp_path).path == tmp_path / "rel.db"
    assert parse_database_url("sqlite:////abs/x.db").path == Path("/abs/x.db")
    assert default_sqlite_url(tmp_path / "config.yaml").path == tmp_path / "gatewise.db"


@pytest.mark.parametrize("bad", ["mysql://u:p@h/d", "sqlite://", "postgresql://u:pw@/",
                                 "just-a-path.db", "postgresql://u:pw@h:99999/d"])
def test_bad_urls_say_why_without_the_password(bad: str) -> None:
    with pytest.raises(ValueError, match=r"sqlite|postgresql|port") as caught:
        parse_database_url(bad)
    assert ":pw@" not in str(caught.value) and ":p@" not in str(caught.value)


async def test_open_migrates_to_head_and_is_idempotent(database_url: str) -> None:
    url = parse_database_url(database_url)
    database = await Database.open(url)
    try:
        assert await current_revision(database.engine) == head_revision()
        await upgrade(database.engine, url.path)  # nothing to do: no error
        async with database.engine.connect() as connection:
            tables = await connection.run_sync(
                lambda sync: set(sa.inspect(sync).get_table_names()))
        assert set(metadata.tables) <= tables
    finally:
        await database.close()


async def test_migrations_build_exactly_the_schema(database_url: str) -> None:
    """The migrations and ``schema.py`` agree (alembic's autogenerate finds no difference)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    url = parse_database_url(database_url)
    database = await Database.open(url)
    try:
        async with database.engine.connect() as connection:
            diff = await connection.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"version_table": VERSION_TABLE}),
                metadata))
        assert diff == []
    finally:
        await database.close()


async def test_concurrent_upgrades_wait_for_each_other(database_url: str) -> None:
    url = parse_database_url(database_url)
    databases = [Database.create(url) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(d.engine, url.path) for d in databases))
        assert await current_revision(databases[0].engine) == head_revision()
    finally:
        for database in databases:
            await database.close()


async def test_sqlite_is_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    database = await Database.open(parse_database_url(f"sqlite:///{tmp_path / 'w.db'}"))
    try:
        async with database.engine.connect() as connection:
            mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            busy = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        assert (mode, busy) == ("wal", 5000)
    finally:
        await database.close()


async def test_an_unusable_database_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseUnavailable, match="cannot create the folder"):
        await Database.open(parse_database_url(f"sqlite:///{blocker / 'x.db'}"))
    closed = parse_database_url("postgresql://u:hunter2@127.0.0.1:1/none")
    with pytest.raises(DatabaseUnavailable) as caught:
        await Database.open(closed)
    assert "hunter2" not in str(caught.value)


def test_the_schema_version_constant_is_alembics_head() -> None:
    from gatewise.db.migrate import SCHEMA_VERSION

    assert head_revision() == SCHEMA_VERSION


def test_an_up_to_date_database_opens_without_alembic(tmp_path: Path) -> None:
    import subprocess
    import sys
    import textwrap

    url = parse_database_url(f"sqlite:///{tmp_path / 'a.db'}")

    async def create() -> None:
        await (await Database.open(url)).close()

    asyncio.run(create())
    probe = textwrap.dedent(f"""
        import asyncio, sys
        from gatewise.db.database import Database
        from gatewise.db.url import parse_database_url
        async def main():
            await (await Database.open(parse_database_url({url.shown!r}))).close()
        asyncio.run(main())
        print(sorted(m for m in sys.modules if m.startswith("alembic")))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


async def test_old_changes_are_pruned(database_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from gatewise.db.changes import changes_after, prune
    from gatewise.db.schema import changes

    database = await Database.open(parse_database_url(database_url))
    try:
        old = datetime.now(UTC) - timedelta(hours=2)
        async with database.engine.begin() as connection:
            await connection.execute(changes.insert(), [
                {"kind": "key", "ref": "old", "at": old},
                {"kind": "key", "ref": "new", "at": datetime.now(UTC)}])
        assert await prune(database) == 1
        _, left = await changes_after(database, 0)
        assert left == [("key", "new")]
    finally:
        await database.close()
