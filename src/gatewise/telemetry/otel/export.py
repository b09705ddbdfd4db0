"""Sending the proxy's spans: batched on a thread of its own, over OTLP/HTTP (protobuf).

Modelled on OpenTelemetry's ``BatchSpanProcessor`` and configured by the same variables:
:meth:`SpanBatcher.add` appends a finished span to a bounded queue and returns (the
request's path never waits, never blocks: a full queue drops the span and counts it); the
thread sends a batch as soon as one is full, else every ``OTEL_BSP_SCHEDULE_DELAY`` ms
(5,000), batches of ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` (512) from a queue of
``OTEL_BSP_MAX_QUEUE_SIZE`` (2,048).  Each batch is one ``POST`` of an
``ExportTraceServiceRequest`` (``otlp``) on a kept-alive connection, to
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (as given) or ``OTEL_EXPORTER_OTLP_ENDPOINT`` +
``/v1/traces`` (default ``http://localhost:4318``; not added again to a base that names
it: :func:`~gatewise.telemetry.otel.endpoint.traces_url`), with
``OTEL_EXPORTER_OTLP[_TRACES]_HEADERS``
(``k=v,k2=v2``), ``..._TIMEOUT`` (seconds, 10), ``..._COMPRESSION`` (``gzip``),
``..._CERTIFICATE`` (a CA file for https).

A collector that is down, slow or refusing costs the requests nothing: a failed batch is
retried after a backoff (at most :data:`ATTEMPTS` times, then dropped and counted) while new
spans wait in the queue, and the outage is logged once when it starts and once when it
ends.  :meth:`close` sends what is queued within a deadline.
"""

from __future__ import annotations

import gzip
import http.client
import logging
import os
import ssl
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from gatewise.telemetry.otel.endpoint import traces_url
from gatewise.telemetry.otel.otlp import Encoder, SpanData

__all__ = ["ATTEMPTS", "ExportSettings", "SpanBatcher"]

logger = logging.getLogger("gatewise.telemetry")
ATTEMPTS = 3
"""Sends of one batch before it is dropped (the collector is down: newer spans matter more)."""
_RETRY_STATUSES = frozenset({429, 502, 503, 504})


def _env(environ: Mapping[str, str], name: str, default: str = "") -> str:
    """``OTEL_EXPORTER_OTLP_TRACES_<name>``, else ``OTEL_EXPORTER_OTLP_<name>``."""
    return (environ.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}")
            or environ.get(f"OTEL_EXPORTER_OTLP_{name}") or default).strip()


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    try:
        value = float(environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass(frozen=True)
class ExportSettings:
    url: str = "http://localhost:4318/v1/traces"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold a token
    timeout: float = 10.0
    gzip: bool = False
    certificate: str | None = None
    delay: float = 5.0
    queue_size: int = 2048
    batch_size: int = 512

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ExportSettings:
        url = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        if not url:
            url = traces_url(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
                             or "http://localhost:4318")
        headers = {}
        for item in _env(environ, "HEADERS").split(","):
            name, found, value = item.partition("=")
            if found and name.strip():
                headers[unquote(name.strip())] = unquote(value.strip())
        queue_size = int(_number(environ, "OTEL_BSP_MAX_QUEUE_SIZE", 2048))
        return cls(url=url, headers=headers,
                   timeout=_number({"t": _env(environ, "TIMEOUT")}, "t", 10.0),
                   gzip=_env(environ, "COMPRESSION").lower() == "gzip",
                   certificate=_env(environ, "CERTIFICATE") or None,
                   delay=_number(environ, "OTEL_BSP_SCHEDULE_DELAY", 5000.0) / 1000.0,
                   queue_size=queue_size,
                   batch_size=min(queue_size, int(_number(
                       environ, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512))))


class _Sender:
    """POSTs to the collector over one kept-alive connection (made again after a failure)."""

    def __init__(self, settings: ExportSettings) -> None:
        parts = urlsplit(settings.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {settings.url!r}")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = settings.timeout
        self._context = (ssl.create_default_context(cafile=settings.certificate)
                         if self._https else None)
        self._headers = {**settings.headers, "Content-Type": "application/x-protobuf"}
        if settings.gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._gzip = settings.gzip
        self._connection: http.client.HTTPConnection | None = None

    def send(self, body: bytes) -> str | None:
        """None when the collector took it, else why not."""
        if self._gzip:
            body = gzip.compress(body, compresslevel=1)
        try:
            connection = self._connection
            if connection is None:
                connection = self._connection = (
                    http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                                context=self._context) if self._https
                    else http.client.HTTPConnection(self._host, self._port,
                                                    timeout=self._timeout))
            connection.request("POST", self._path, body, self._headers)
            answer = connection.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if answer.status >= 300:
            if answer.status not in _RETRY_STATUSES:
                self.close()
            return f"HTTP {answer.status} {answer.reason}"
        return None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class SpanBatcher:
    def __init__(self, encoder: Encoder, settings: ExportSettings) -> None:
        self.settings = settings
        self.where = settings.url
        self._encoder = encoder
        self._sender = _Sender(settings)
        self._queue: deque[SpanData] = deque()
        self._limit = settings.queue_size
        self._batch = settings.batch_size
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._deadline = 0.0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.dropped = 0
        self.sent = 0
        self.failing: str | None = None

    # -- the request's side ---------------------------------------------------------------

    def add(self, span: SpanData) -> None:
        queue = self._queue
        if len(queue) >= self._limit or self._stop.is_set():
            self.dropped += 1
            return
        queue.append(span)
        if self._thread is None:
            self._start()
        elif len(queue) >= self._batch and not self._wake.is_set():
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="gatewise-spans",
                                                daemon=True)
                self._thread.start()

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if len(self._queue) < self._batch:
                self._wake.wait(self.settings.delay)
                self._wake.clear()
            if self._stop.is_set():
                break
            self._send_some()
        self._send_some(closing=True)

    def _take(self) -> list[SpanData]:
        queue = self._queue
        batch: list[SpanData] = []
        while queue and len(batch) < self._batch:
            batch.append(queue.popleft())
        return batch

    def _send_some(self, *, closing: bool = False) -> None:
        """Send what is queued, a batch at a time; a failed batch is sent again after a
        pause (while closing, only within the deadline), at most :data:`ATTEMPTS` times."""
        while self._queue:
            batch = self._take()
            body = self._encoder.request(batch)
            for attempt in range(ATTEMPTS):
                why = self._sender.send(body)
                if why is None:
                    self.sent += len(batch)
                    self._recovered()
                    break
                self._failed(why)
                pause = min(2.0 ** attempt, 30.0)
                if closing:
                    if time.monotonic() + pause > self._deadline:
                        break
                    time.sleep(pause)
                elif self._stop.wait(pause):  # closing meanwhile: the last pass takes over
                    break
            else:
                self.dropped += len(batch)
                continue
            if why is not None:
                self.dropped += len(batch)
                if closing or self._stop.is_set():
                    return
            if closing and time.monotonic() > self._deadline:
                return

    def _failed(self, why: str) -> None:
        if self.failing is None:
            logger.warning("traces: cannot export spans to %s (%s); the proxy serves on, "
                           "spans wait (and are dropped, counted, past %d) until it answers",
                           self.where, why, self._limit)
        self.failing = why

    def _recovered(self) -> None:
        if self.failing is not None:
            self.failing = None
            logger.warning("traces: exporting spans to %s again (%d dropped so far)",
                           self.where, self.dropped)

    def close(self, timeout: float = 3.0) -> None:
        """Send what is queued (within ``timeout`` seconds), then stop the thread."""
        self._deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout + 1.0)  # a send stuck on a silent collector is left
        self.dropped += len(self._queue)
        self._queue.clear()
        self._sender.close()
