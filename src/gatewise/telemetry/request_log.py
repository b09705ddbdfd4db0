"""``json_logs: true``: one JSON line per request, for log pipelines that want no Prometheus.

The line is the request's record (``RequestRecord.as_dict``: no secret, no message
content, no request parameters), written to standard output by a thread of its own: the
request's path only appends the record to a bounded queue.  When the queue is full (the
output cannot keep up), records are dropped and counted (``dropped``, exported as
``gatewise_request_log_dropped_total`` when Prometheus is on), and the drop is logged once
until the queue has room again.  Closing writes what is queued.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from typing import IO

import orjson

from gatewise.record import RequestRecord

__all__ = ["CAPACITY", "RequestLog"]

logger = logging.getLogger("gatewise.telemetry")
CAPACITY = 10_000
"""Records waiting to be written, at most."""
_STOP = None


class RequestLog:
    wants_details = False

    def __init__(self, stream: IO[bytes] | None = None, capacity: int = CAPACITY) -> None:
        self._stream = stream
        self._capacity = capacity
        self._queue: queue.SimpleQueue[RequestRecord | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None  # started by the first record
        self._lock = threading.Lock()
        self.dropped = 0
        self._dropping = False
        self.written = 0

    def emit(self, record: RequestRecord) -> None:
        if self._queue.qsize() >= self._capacity:
            self.dropped += 1
            if not self._dropping:
                self._dropping = True
                logger.warning("json_logs: the request log cannot keep up; lines are "
                               "dropped (counted) until it has room")
            return
        self._dropping = False
        self._queue.put(record)
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._write, name="gatewise-request-log",
                                                daemon=True)
                self._thread.start()

    def _write(self) -> None:
        out = self._stream if self._stream is not None else sys.stdout.buffer
        while True:
            first = self._queue.get()
            batch = [first]
            while len(batch) < 512:  # what has piled up meanwhile, in one write
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            lines = [orjson.dumps(r.as_dict()) + b"\n" for r in batch if r is not _STOP]
            if lines:
                try:
                    out.write(b"".join(lines))
                    out.flush()
                    self.written += len(lines)
                except (OSError, ValueError):
                    self.dropped += len(lines)
            if _STOP in batch:
                return

    async def aclose(self) -> None:
        thread = self._thread
        if thread is None:
            return
        import asyncio

        self._queue.put(_STOP)
        await asyncio.to_thread(thread.join, 10.0)
