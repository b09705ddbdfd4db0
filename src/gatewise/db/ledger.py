"""The spend ledger's writer: rows off the request path, into the database in batches.

Modelled on OpenTelemetry's ``BatchSpanProcessor``.  :meth:`LedgerWriter.submit` appends a
row to a bounded in-memory queue and returns at once: it never awaits, never blocks, never
touches the database.  One background task takes the rows out in batches -- as soon as a
batch is full, else every ``flush_interval`` -- and writes each batch in one transaction
(:mod:`gatewise.db.ledger_batch`: idempotent on the call id, aggregates from the rows
actually inserted).  The same task runs the budget period pass every ``reset_interval``.

Nothing is lost silently:

* the database unavailable (stopped, unreachable, read-only, disk full): the batch is
  retried at once on fresh connections (the pooled ones may be stale), then with backoff
  while new rows wait in the queue; the outage is logged once when it starts (with the
  database's reason) and once when it ends, never per batch;
* the queue full: new rows are dropped, counted in ``dropped`` and logged (once when it
  fills up, then a summary when there is room again);
* a row the database refuses (not a connection problem: a value it will not take): the
  batch is split to find it, and that row alone is counted in ``rejected`` and logged;
* :meth:`flush` writes everything submitted so far; :meth:`aclose` flushes within a
  deadline (graceful shutdown) and counts whatever it could not write as dropped.

After a ``kill -9`` the rows of at most the last flush interval (plus the batch being
written) are lost: every batch is a transaction, so the database is never left half
written (and SQLite runs in WAL mode).

The counters are plain attributes for the metrics sink to read (``counters()`` has them
all): ``queued`` (rows waiting, the batch in hand included), ``written`` (rows inserted),
``duplicates`` (rows whose call id was already there: submitted twice, or taken by an
attempt whose commit the writer never heard back from), ``batches`` (transactions
committed), ``failures`` (attempts that failed and were retried), ``dropped`` (rows lost:
queue full, or unwritten at shutdown), ``rejected`` (rows the database refused) and
``resets`` (budget periods reset).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DataError, IntegrityError

from gatewise.db.database import describe
from gatewise.db.ledger_batch import reset_periods, write_batch
from gatewise.db.ledger_settings import LedgerSettings

if TYPE_CHECKING:
    from gatewise.db.database import Database

__all__ = ["LedgerSettings", "LedgerWriter"]

logger = logging.getLogger("gatewise.ledger")

Row = Mapping[str, Any]

_BACKOFF_FIRST = 0.2
_BACKOFF_MAX = 5.0


class LedgerWriter:
    """A bounded queue of spend log rows and the task that writes them (see the module's
    docstring).  ``submit`` from the event loop that serves; the task starts on the first
    ``submit`` (or ``start()``)."""

    def __init__(self, database: Database, settings: LedgerSettings | None = None) -> None:
        self.database = database
        self.settings = settings or LedgerSettings()
        self._queue: deque[Row] = deque()
        self._batch: Sequence[Row] = ()  # being written
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._accepted = 0  # rows taken into the queue, ever
        self._done = 0  # of those: written, found already written, rejected or given up
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._outage_since: float | None = None
        self._dropping = 0  # drops since the queue filled up (0: it has room)
        self._next_reset = 0.0
        # Counters, for metrics.
        self.written = 0
        self.duplicates = 0
        self.batches = 0
        self.failures = 0
        self.dropped = 0
        self.rejected = 0
        self.resets = 0

    # -- the request path -------------------------------------------------------------

    def submit(self, row: Row) -> bool:
        """Queue ``row`` for writing; False when it had to be dropped (counted, logged)."""
        queue = self._queue
        if len(queue) >= self.settings.max_queue or self._closing:
            self._drop()
            return False
        queue.append(row)
        self._accepted += 1
        if self._task is None:
            self.start()
        if len(queue) >= self.settings.batch_size:
            wake = self._wake
            if wake is not None and not wake.is_set():
                wake.set()
        return True

    def _drop(self) -> None:
        self.dropped += 1
        self._dropping += 1
        if self._dropping == 1:
            why = ("the writer is closed" if self._closing else
                   f"its queue of {self.settings.max_queue} rows is full (the database "
                   "is unavailable or slower than the traffic)")
            logger.error("ledger: spend rows are being dropped: %s; they are counted "
                         "(dropped=%d so far)", why, self.dropped)

    # -- state --------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        """Rows waiting to be written, the batch in hand included."""
        return len(self._queue) + len(self._batch)

    def counters(self) -> dict[str, int]:
        return {"queued": self.queued, "written": self.written,
                "duplicates": self.duplicates, "batches": self.batches,
                "failures": self.failures, "dropped": self.dropped,
                "rejected": self.rejected, "resets": self.resets}

    def __repr__(self) -> str:
        return f"LedgerWriter({self.database!r}, queued={self.queued})"

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the background task in the running loop (idempotent)."""
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="gatewise-ledger")

    async def flush(self, timeout: float | None = None) -> bool:
        """Write every row submitted so far; False if that did not happen in ``timeout``
        seconds (the rows stay queued)."""
        target = self._accepted
        if self._done >= target:
            return True
        self.start()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        assert self._wake is not None
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return False
        return True

    async def aclose(self, timeout: float | None = None) -> None:
        """Flush within ``timeout`` (default ``flush_timeout``), then stop.  Rows still
        unwritten then are counted as dropped and logged; later submits are dropped."""
        self._closing = True
        deadline = self.settings.flush_timeout if timeout is None else timeout
        flushed = await self.flush(deadline)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        lost = self._accepted - self._done
        if not flushed and lost:
            self.dropped += lost
            self._done = self._accepted
            logger.error("ledger: %d spend rows could not be written within %g s of "
                         "shutdown (%s) and are lost", lost, deadline,
                         "the database is unavailable" if self._outage_since is not None
                         else "the database is too slow")
        self._queue.clear()
        self._batch = ()
        self._settle_waiters()

    # -- the background task ------------------------------------------------------------

    async def _run(self) -> None:
        settings = self.settings
        wake = self._wake
        assert wake is not None
        while True:
            if len(self._queue) < settings.batch_size and not self._waiters:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(settings.flush_interval):
                        await wake.wait()
            if time.monotonic() >= self._next_reset:
                await self._reset_periods()
            while self._queue:
                count = min(settings.batch_size, len(self._queue))
                queue = self._queue
                self._batch = [queue.popleft() for _ in range(count)]
                await self._write(self._batch)
                self._done += count
                self._batch = ()
                self._settle_waiters()
            if self._dropping:
                logger.warning("ledger: the queue has room again; %d spend rows were dropped "
                               "while it was full", self._dropping)
                self._dropping = 0
            self._settle_waiters()

    def _settle_waiters(self) -> None:
        if not self._waiters:
            return
        pending = []
        for target, future in self._waiters:
            if self._done >= target or self._task is None:
                if not future.done():
                    future.set_result(None)
            else:
                pending.append((target, future))
        self._waiters = pending

    async def _write(self, batch: Sequence[Row]) -> None:
        """Write ``batch`` (retrying until the database takes it); rows it refuses are
        isolated and counted."""
        unique: dict[str, Row] = {}
        for row in batch:
            unique.setdefault(row["request_id"], row)
        self.duplicates += len(batch) - len(unique)
        rows = list(unique.values())
        delay = _BACKOFF_FIRST
        refused: set[str] = set()
        fresh = False
        while True:
            try:
                await self._write_or_split(rows, refused)
            except Exception as exc:  # anything but a refused row: wait and retry
                self.failures += 1
                if not fresh and self._outage_since is None:
                    # Once at once, on new connections: the pooled ones may be stale (a
                    # server restarted, an SQLite file opened while it was read-only).
                    fresh = True
                    with contextlib.suppress(Exception):
                        await self.database.engine.dispose()
                    continue
                self._outage(exc)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, _BACKOFF_MAX)
                continue
            self._recovered()
            return

    async def _write_or_split(self, rows: Sequence[Row], refused: set[str]) -> None:
        try:
            result = await write_batch(self.database.engine, rows)
        except (DataError, IntegrityError, TypeError, ValueError) as exc:
            # A value the database (or its driver) will not take: find the row(s), write
            # the others.
            if len(rows) == 1:
                request_id = rows[0]["request_id"]
                if request_id not in refused:  # not again when a retried batch meets it
                    refused.add(request_id)
                    self.rejected += 1
                    logger.error("ledger: the database refused the spend row of call %s "
                                 "(%s); it is not recorded", request_id, describe(exc))
                return
            middle = len(rows) // 2
            await self._write_or_split(rows[:middle], refused)
            await self._write_or_split(rows[middle:], refused)
            return
        self.batches += 1
        self.written += len(result.inserted)
        self.duplicates += len(rows) - len(result.inserted)

    async def _reset_periods(self) -> None:
        self._next_reset = time.monotonic() + self.settings.reset_interval
        try:
            self.resets += await reset_periods(self.database.engine)
        except Exception as exc:  # the next pass will do it
            self._outage(exc)

    def _outage(self, exc: BaseException) -> None:
        if self._outage_since is not None:
            return
        self._outage_since = time.monotonic()
        logger.error("ledger: cannot write to %s (%s); spend rows wait in memory (%d now, "
                     "room for %d) and are retried until it works again",
                     self.database.url.shown, describe(exc), self.queued,
                     self.settings.max_queue, exc_info=not _is_database_error(exc))

    def _recovered(self) -> None:
        if self._outage_since is None:
            return
        took = time.monotonic() - self._outage_since
        self._outage_since = None
        logger.warning("ledger: writing to %s again after %.1f s; %d rows still queued",
                       self.database.url.shown, took, self.queued)


def _is_database_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, SQLAlchemyError | OSError | TimeoutError)
