"""``python -m bench.ledger``: how many spend rows a second the ledger writer sustains.

    python -m bench.ledger                        # SQLite and a throwaway PostgreSQL
    python -m bench.ledger --postgres URL         # an existing PostgreSQL database instead
    python -m bench.ledger --rows 100000 --only sqlite

Two figures per backend, each with the writer's default settings (batches of 500, a flush
a second) and rows that count toward 200 keys, 20 teams, 50 users and 100 end users (so
every batch updates the aggregates too):

* **drain**: rows submitted as fast as the loop can make them, until the last is committed:
  rows/s end to end, the cost of ``spend_row`` + ``submit`` on the request path (µs a
  row, on the event loop's thread), the writer's own CPU time on that thread (µs a row:
  what it takes from serving requests) and on all the process's threads (SQLite's own
  work runs on aiosqlite's thread);
* **paced**: rows offered at ``--rate`` (default 5,000/s, the target) for ``--seconds``: the
  deepest the queue got, and whether everything was written within a flush interval of
  the end.

The throwaway PostgreSQL cluster keeps PostgreSQL's durable defaults (fsync on,
synchronous commits), unlike the test suite's.  Writes ``bench/results/ledger.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
TARGET = 5000


@contextlib.contextmanager
def durable_postgres(cpu: int | None = None, started: Callable[[int], None] | None = None
                     ) -> Iterator[str]:
    """A throwaway cluster with PostgreSQL's default durability; yields its URL.  ``cpu``:
    the core its processes are pinned to; ``started`` is told the server's pid."""
    from tests._net import free_port
    from tests._services import _as_postgres_user, _postgres_bin, _wait_for_port

    from bench.procs import pinned

    bindir, prefix = _postgres_bin(), _as_postgres_user()
    folder = Path(tempfile.mkdtemp(prefix="gatewise-bench-pg-"))
    if prefix:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(folder / "data"), "-A",
                    "trust", "-U", "postgres", "-E", "UTF8"], check=True,
                   capture_output=True, timeout=120)
    port = free_port()
    log = open(folder / "server.log", "ab")  # noqa: SIM115 - the server owns it
    command = [*prefix, str(bindir / "postgres"), "-D", str(folder / "data"), "-p", str(port),
               "-k", str(folder), "-c", "listen_addresses=127.0.0.1"]
    process = subprocess.Popen(command if cpu is None else pinned(command, cpu),
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_port(port, process, "postgres")
        if started is not None:
            started(process.pid)
        psql = [*prefix, str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U",
                "postgres", "-c", "CREATE DATABASE bench"]
        deadline = time.monotonic() + 30
        while subprocess.run(psql, check=False, capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("postgres did not accept connections")
            time.sleep(0.2)
        yield f"postgresql://postgres@127.0.0.1:{port}/bench"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "stop", "-D", str(folder / "data"),
                        "-m", "fast", "-w"], check=False, capture_output=True, timeout=60)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


async def _identities(database: Any) -> None:
    import sqlalchemy as sa

    from gatewise.db.schema import customers, keys, teams, users

    now = datetime.now(UTC)
    common = {"models": [], "metadata": {}, "created_at": now, "updated_at": now}
    async with database.engine.begin() as connection:
        await connection.execute(sa.insert(teams), [
            {"team_id": f"team-{n}", "members": [], **common} for n in range(20)])
        await connection.execute(sa.insert(users), [
            {"user_id": f"user-{n}", "user_role": "internal_user", "teams": [], **common}
            for n in range(50)])
        await connection.execute(sa.insert(keys), [
            {"token": f"{n:064x}", "key_name": "sk-...", "team_id": f"team-{n % 20}",
             "user_id": f"user-{n % 50}", **common} for n in range(200)])
        await connection.execute(sa.insert(customers), [
            {"user_id": f"cust-{n}", **common} for n in range(100)])


def _record(n: int, run: str) -> Any:
    from gatewise.proxy.record import RequestRecord

    return RequestRecord(
        call_id=f"{run}{n:016x}", route="chat", start=time.time(), key_id=f"{n % 200:064x}",
        key_alias=None, team_id=f"team-{n % 20}", user_id=f"user-{n % 50}",
        end_user=f"cust-{n % 100}", model_group="mistral-small-latest",
        deployment_id="dep-1", model="mistral-small-latest", status=200,
        prompt_tokens=120, completion_tokens=40, cost=0.000046, latency=0.2, ttft=0.05)


async def _drain(database: Any, rows: int) -> dict[str, Any]:
    from gatewise.db.ledger import LedgerWriter
    from gatewise.db.ledger_sink import LedgerSink

    writer = LedgerWriter(database)
    sink = LedgerSink(writer)
    records = [_record(n, "drain") for n in range(rows)]
    submit_cpu = 0.0
    loop_cpu = time.thread_time()  # the event loop's thread: what requests would share
    process_cpu = time.process_time()
    start = time.perf_counter()
    for offset in range(0, rows, 500):
        began = time.thread_time()  # (not process_time: aiosqlite's thread runs meanwhile)
        for record in records[offset:offset + 500]:
            sink.emit(record)
        submit_cpu += time.thread_time() - began
        await asyncio.sleep(0)  # as a server would: the writer gets the loop in between
    await writer.flush()
    took = time.perf_counter() - start
    loop_cpu = time.thread_time() - loop_cpu - submit_cpu
    process_cpu = time.process_time() - process_cpu - submit_cpu
    await writer.aclose()
    assert writer.written == rows and writer.dropped == 0, writer.counters()
    return {"rows": rows, "seconds": round(took, 3), "rows_per_s": round(rows / took),
            "submit_us": round(submit_cpu / rows * 1e6, 2),
            "writer_loop_us": round(loop_cpu / rows * 1e6, 2),
            "writer_all_threads_us": round(process_cpu / rows * 1e6, 2),
            "batches": writer.batches}


async def _paced(database: Any, rate: int, seconds: float) -> dict[str, Any]:
    from gatewise.db.ledger import LedgerWriter
    from gatewise.db.ledger_sink import LedgerSink

    writer = LedgerWriter(database)
    sink = LedgerSink(writer)
    tick = 0.01
    per_tick = max(1, round(rate * tick))
    deepest = sent = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        due = int((time.perf_counter() - start) * rate)
        while sent < min(due, sent + 4 * per_tick):
            sink.emit(_record(sent, "paced"))
            sent += 1
        deepest = max(deepest, writer.queued)
        await asyncio.sleep(tick)
    offered = time.perf_counter() - start
    flushed = time.perf_counter()
    await writer.flush()
    lag = time.perf_counter() - flushed
    await writer.aclose()
    assert writer.written == sent and writer.dropped == 0, writer.counters()
    return {"offered_rows_per_s": round(sent / offered), "rows": sent,
            "deepest_queue": deepest, "final_flush_s": round(lag, 3),
            "kept_up": lag <= 1.0 + writer.settings.flush_interval}


async def measure(url: str, rows: int, rate: int, seconds: float) -> dict[str, Any]:
    from gatewise.db.database import Database
    from gatewise.db.url import parse_database_url

    database = await Database.open(parse_database_url(url))
    try:
        await _identities(database)
        gc.collect()
        gc.freeze()  # as the proxy does once it has started
        drain = await _drain(database, rows)
        paced = await _paced(database, rate, seconds)
    finally:
        await database.close()
    return {"drain": drain, "paced": paced}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rate", type=int, default=TARGET)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--postgres", metavar="URL", help="an existing, empty database")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--out", type=Path, default=RESULTS / "ledger.json")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()  # as the proxy serves
    except ImportError:
        pass
    results: dict[str, Any] = {"target_rows_per_s": TARGET, "cpus": os.cpu_count(),
                               "when": datetime.now(UTC).isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory() as folder:
        if args.only in (None, "sqlite"):
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            results["sqlite"] = asyncio.run(measure(url, args.rows, args.rate, args.seconds))
            print("sqlite", json.dumps(results["sqlite"]), flush=True)
    if args.only in (None, "postgresql"):
        with (contextlib.nullcontext(args.postgres) if args.postgres
              else durable_postgres()) as url:
            results["postgresql"] = asyncio.run(measure(url, args.rows, args.rate,
                                                        args.seconds))
        print("postgresql", json.dumps(results["postgresql"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    verdicts = [results[b]["drain"]["rows_per_s"] >= TARGET and results[b]["paced"]["kept_up"]
                for b in ("sqlite", "postgresql") if b in results]
    print(f"target {TARGET} rows/s: {'met' if all(verdicts) else 'NOT met'}")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
