"""The spend ledger through the real CLI, under faults: SIGTERM under load, PostgreSQL
stopped and started again mid-run, a full or read-only SQLite file.  In every case each
request the proxy answered has its row (its call id), and the proxy serves throughout."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from gatewise.db.database import Database
from gatewise.db.schema import spend_logs
from gatewise.db.url import parse_database_url
from tests._services import Postgres
from tests.access._keys import add_key
from tests.fake_mistral import Delay, FakeMistral
from tests.proxy._server import Proxy, run_proxy_with, stop

MASTER = "sk-master-ledger-e2e"
HELLO = [{"role": "user", "content": "hello"}]


def _config(fake: FakeMistral, database_url: str) -> dict[str, Any]:
    return {"model_list": [{"model_name": "small", "params": {
        "model": "mistral/mistral-small-latest", "api_key": "test-key",
        "api_base": fake.base_url, "max_retries": 0}}],
        "general_settings": {"master_key": MASTER, "database_url": database_url,
                             "graceful_shutdown_timeout": 20}}


async def _prepare(database_url: str) -> str:
    """Migrate the database and make a virtual key; returns the plain key."""
    database = await Database.open(parse_database_url(database_url))
    try:
        return await add_key(database, key_alias="e2e")
    finally:
        await database.close()


async def _ledger_ids(database_url: str) -> set[str]:
    database = Database.create(parse_database_url(database_url))
    try:
        async with database.engine.connect() as connection:
            return set((await connection.execute(sa.select(spend_logs.c.request_id)))
                       .scalars())
    finally:
        await database.close()


async def _until_ledger_has(database_url: str, ids: set[str], timeout: float = 60) -> set[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = await _ledger_ids(database_url)
        if ids <= found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


class Load:
    """``workers`` clients posting chat requests back to back until told to stop or the
    proxy stops answering; the call ids of every answer, and what else happened."""

    def __init__(self, proxy: Proxy, key: str, workers: int = 8) -> None:
        self.url = proxy.url + "/v1/chat/completions"
        self.key = key
        self.workers = workers
        self.answered: dict[str, int] = {}  # call id -> status
        self.answered_at: dict[str, float] = {}  # call id -> when (monotonic)
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.running = True
        self._tasks: list[asyncio.Task[None]] = []

    async def _worker(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        async with aiohttp.ClientSession() as session:
            while self.running:
                try:
                    async with session.post(self.url, json={"model": "small",
                                                            "messages": HELLO},
                                            headers=headers) as answer:
                        await answer.read()
                        call_id = answer.headers.get("x-gatewise-call-id")
                        if call_id:
                            self.answered[call_id] = answer.status
                            self.answered_at[call_id] = time.monotonic()
                        self.statuses[answer.status] = self.statuses.get(answer.status, 0) + 1
                except (aiohttp.ClientError, OSError):
                    self.errors += 1
                    await asyncio.sleep(0.05)
                    if self.errors > 200:
                        return

    def start(self) -> None:
        self._tasks = [asyncio.ensure_future(self._worker()) for _ in range(self.workers)]

    async def stop(self) -> None:
        self.running = False
        await asyncio.gather(*self._tasks)

    async def until(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.answered) < count:
            assert time.monotonic() < deadline, (self.statuses, self.errors)
            await asyncio.sleep(0.05)


async def test_sigterm_under_load_keeps_every_answered_row(
        database_url: str, fake_mistral: FakeMistral, tmp_path: Path) -> None:
    fake_mistral.script(*[Delay(0.02)] * 100_000)
    key = await _prepare(database_url)
    with run_proxy_with(_config(fake_mistral, database_url), tmp_path) as proxy:
        load = Load(proxy, key)
        load.start()
        await load.until(300)
        code = await asyncio.to_thread(stop, proxy)  # SIGTERM while requests are in flight
        await load.stop()
    assert code == 0, proxy.output()
    answered = set(load.answered)
    assert load.statuses.get(200, 0) >= 300
    found = await _ledger_ids(database_url)
    assert found == answered, (len(found), len(answered), proxy.output()[-2000:])


async def test_postgres_stopped_and_restarted_mid_run(
        postgres: Postgres, fake_mistral: FakeMistral, tmp_path: Path) -> None:
    database_url = postgres.create_database("ledger_e2e_restart")
    fake_mistral.script(*[Delay(0.01)] * 100_000)
    key = await _prepare(database_url)
    with run_proxy_with(_config(fake_mistral, database_url), tmp_path) as proxy:
        load = Load(proxy, key, workers=4)
        load.start()
        try:
            await load.until(100)
            await asyncio.to_thread(postgres.stop)
            try:
                during = len(load.answered)
                await load.until(during + 300)  # served while the database is away
            finally:
                await asyncio.to_thread(postgres.start)
            await load.until(len(load.answered) + 100)
        finally:
            await load.stop()
        assert set(load.statuses) == {200}, (load.statuses, proxy.output()[-3000:])
        answered = set(load.answered)
        found = await _until_ledger_has(database_url, answered)
        assert answered <= found, (len(answered - found), proxy.output()[-3000:])
        log = proxy.output()
    assert log.count("ledger: cannot write") == 1, log[-3000:]
    assert log.count("ledger: writing to") == 1, log[-3000:]
    assert found == answered


def _root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (a tmpfs mount, chattr)")


@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str = "4m") -> Iterator[Path]:
    folder.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                             str(folder)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def _fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte."""
    filler = folder / "filler"
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as out:
        while True:
            out.write(b"\1" * 4096)
    return filler


async def _sqlite_fault_run(tmp_path: Path, fake: FakeMistral, db_path: Path,
                            fault_on: Any, fault_off: Any, reason: str) -> None:
    """Serve under load, break the database file (``fault_on``), serve on, mend it
    (``fault_off``): every answered request ends up in the ledger."""
    database_url = f"sqlite:///{db_path}"
    fake.script(*[Delay(0.01)] * 100_000)
    key = await _prepare(database_url)
    with run_proxy_with(_config(fake, database_url), tmp_path) as proxy:
        load = Load(proxy, key, workers=4)
        load.start()
        try:
            await load.until(100)
            fault_on()
            try:
                await load.until(len(load.answered) + 300)
                deadline = time.monotonic() + 30
                while "ledger: cannot write" not in proxy.output():
                    assert time.monotonic() < deadline, proxy.output()[-3000:]
                    await asyncio.sleep(0.1)
                assert proxy.process.poll() is None  # no crash
            finally:
                fault_off()
            await load.until(len(load.answered) + 100)
        finally:
            await load.stop()
        assert set(load.statuses) == {200}, (load.statuses, proxy.output()[-3000:])
        answered = set(load.answered)
        found = await _until_ledger_has(database_url, answered)
        log = proxy.output()
        assert answered <= found, (len(answered - found), log[-3000:])
        [outage] = [line for line in log.splitlines() if "ledger: cannot write" in line]
        assert reason in outage.lower(), outage
        assert log.count("ledger: writing to") == 1, log[-3000:]
        assert "Traceback" not in log, log[-3000:]


async def test_a_full_sqlite_disk(fake_mistral: FakeMistral, tmp_path: Path) -> None:
    _root_only()
    with small_tmpfs(tmp_path / "disk") as disk:
        filler = disk / "filler"
        await _sqlite_fault_run(tmp_path, fake_mistral, disk / "gatewise.db",
                                fault_on=lambda: _fill(disk), fault_off=filler.unlink,
                                reason="full")


def _immutable_works(chattr: str, probe: Path) -> bool:
    probe.write_text("x")
    if subprocess.run([chattr, "+i", str(probe)], check=False).returncode != 0:
        return False
    subprocess.run([chattr, "-i", str(probe)], check=True)
    return True


async def test_a_read_only_sqlite_file(fake_mistral: FakeMistral, tmp_path: Path) -> None:
    _root_only()
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("chattr is not installed")
    db_path = tmp_path / "ro" / "gatewise.db"
    db_path.parent.mkdir()
    # The database and its write-ahead log; not the shared-memory index, which SQLite maps
    # into memory (a write to a mapped page of an immutable file is a SIGBUS, which no
    # program survives: nothing a read-only file system does to SQLite's -shm).
    files = [db_path, db_path.with_name("gatewise.db-wal")]

    def immutable(flag: str) -> None:
        for path in files:
            if path.exists():
                subprocess.run([chattr, flag, str(path)], check=True, capture_output=True)

    if not _immutable_works(chattr, tmp_path / "probe"):
        pytest.skip("this file system does not support chattr +i")
    try:
        await _sqlite_fault_run(tmp_path, fake_mistral, db_path,
                                fault_on=lambda: immutable("+i"),
                                fault_off=lambda: immutable("-i"), reason="error")
    finally:
        immutable("-i")


async def test_kill_9_loses_at_most_the_last_flush_interval(
        fake_mistral: FakeMistral, tmp_path: Path) -> None:
    """``kill -9`` mid-run: every row answered well before the kill (more than the flush
    interval, 1 s, plus a generous margin for a busy machine) is there, and the database
    is intact: it passes SQLite's integrity check and opens again."""
    database_url = f"sqlite:///{tmp_path / 'killed.db'}"
    fake_mistral.script(*[Delay(0.01)] * 100_000)
    key = await _prepare(database_url)
    with run_proxy_with(_config(fake_mistral, database_url), tmp_path) as proxy:
        load = Load(proxy, key, workers=4)
        load.start()
        await load.until(100)
        await asyncio.sleep(4)
        killed_at = time.monotonic()
        proxy.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proxy.process.wait)
        await load.stop()
    found = await _ledger_ids(database_url)
    assert found <= set(load.answered)
    settled = {call_id for call_id, at in load.answered_at.items() if at < killed_at - 3}
    assert settled and settled <= found, len(settled - found)
    database = await Database.open(parse_database_url(database_url))
    try:
        async with database.engine.connect() as connection:
            check = (await connection.exec_driver_sql("PRAGMA integrity_check")).scalar()
        assert check == "ok"
    finally:
        await database.close()
