"""The ledger writer against real failures: PostgreSQL stopped and started again, a full
SQLite database.  Rows wait in memory and are all written when the database is back."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from gatewise.db.database import Database
from gatewise.db.ledger import LedgerSettings, LedgerWriter
from gatewise.db.ledger_sink import spend_row
from gatewise.db.url import parse_database_url
from tests._services import Postgres
from tests.db._ledger import add_identities, ledger_rows, record, spend_of, until

KEY = "k" * 64


async def test_postgres_stopped_and_started_again(postgres: Postgres,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    url = parse_database_url(postgres.create_database("ledger_restart"))
    database = await Database.open(url)
    await add_identities(database)
    writer = LedgerWriter(database, LedgerSettings(flush_interval=0.05))
    try:
        for n in range(50):
            writer.submit(spend_row(record(f"before-{n}")))
        assert await writer.flush(30)
        with caplog.at_level(logging.WARNING, "gatewise.ledger"):
            await asyncio.to_thread(postgres.stop)
            try:
                for n in range(200):
                    writer.submit(spend_row(record(f"during-{n}")))
                await until(lambda: writer.failures >= 2)
                assert writer.queued == 200
            finally:
                await asyncio.to_thread(postgres.start)
            assert await writer.flush(60)
        await writer.aclose()
        rows = await ledger_rows(database)
        assert len(rows) == 250 and writer.dropped == 0
        assert (await spend_of(database))["key:" + KEY] == pytest.approx(250 * 0.25)
        messages = [r.getMessage() for r in caplog.records]
        assert sum("cannot write" in m for m in messages) == 1
    finally:
        await writer.aclose()
        await database.close()


async def test_a_full_sqlite_database_keeps_rows_until_there_is_room(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    database = await Database.open(parse_database_url(f"sqlite:///{tmp_path / 'full.db'}"))
    limit = {"pages": 0}

    def cap_size(dbapi_connection: Any, _record: Any) -> None:
        if limit["pages"]:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA max_page_count = {limit['pages']}")
            cursor.close()

    event.listen(database.engine.sync_engine, "connect", cap_size)
    async with database.engine.connect() as connection:
        pages = (await connection.exec_driver_sql("PRAGMA page_count")).scalar_one()
    limit["pages"] = pages  # not one page more: the next insert finds the disk full
    await database.engine.dispose()
    writer = LedgerWriter(database, LedgerSettings(flush_interval=0.05))
    try:
        with caplog.at_level(logging.WARNING, "gatewise.ledger"):
            for n in range(300):
                writer.submit(spend_row(record(f"call-{n}")))
            await until(lambda: writer.failures >= 2)
            assert writer.queued == 300
            limit["pages"] = 1_000_000
            await database.engine.dispose()
            assert await writer.flush(60)
        assert len(await ledger_rows(database)) == 300
        outage = next(r.getMessage() for r in caplog.records
                      if "cannot write" in r.getMessage())
        assert "full" in outage  # the database's own reason, said once
    finally:
        await writer.aclose()
        await database.close()
