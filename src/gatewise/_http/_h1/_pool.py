"""The kept-alive connections to one origin (scheme, host, port and TLS settings).

Idle connections are reused last-in first-out (the most recently used is the least likely
to have been closed by the upstream, and the others can expire).  An idle connection
expires after ``keepalive_expiry`` seconds, or sooner when the upstream's
``Keep-Alive: timeout=N`` says so; the upstream closing one while idle drops it from the
pool at once.  At most ``limit`` connections are open; a request beyond them waits for one
to come back (within its connect timeout).  Addresses are looked up once per ``DNS_TTL``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque

from gatewise._http._h1._connection import Connection
from gatewise._http._h1._wire import Origin, is_ip

DNS_TTL = 300.0
_MARGIN = 1.0  # seconds before the upstream's own keep-alive timeout that we stop reusing


class ConnectTimeout(TimeoutError):
    """No connection could be opened within the connect timeout."""


class PoolTimeout(TimeoutError):
    """Every allowed connection stayed in use for the whole connect timeout."""


class Pool:
    """Connections to one origin, made in (and bound to) the running event loop."""

    def __init__(self, origin: Origin, context: ssl.SSLContext | None, *, limit: int,
                 keepalive_expiry: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.origin = origin
        self.context = context
        self.limit = limit
        self.expiry = keepalive_expiry
        self.idle: list[Connection] = []
        self.connections: set[Connection] = set()  # open: busy, idle or draining
        self.opening = 0  # connects under way, and slots promised to waiters
        self.in_use = 0  # busy: serving a request
        self.waiters: deque[asyncio.Future[Connection | None]] = deque()
        self._addresses: list[tuple[int, str, int]] = []
        self._resolved_until = 0.0
        self._next_sweep = 0.0

    def take(self) -> Connection | None:
        """An idle connection still fit to use, or None (no waiting)."""
        idle = self.idle
        if not idle:
            return None
        now = self.loop.time()
        while idle:
            conn = idle.pop()
            if now < conn.expires and not conn.closed:
                conn.state = "busy"
                self.in_use += 1
                return conn
            conn.state = "expired"
            conn.close()
        return None

    async def acquire(self, timeout: float, *, fresh: bool = False) -> Connection:
        """A busy connection: an idle one (unless ``fresh``), a new one, or one given back
        while waiting."""
        conn = None if fresh else self.take()
        if conn is not None:
            return conn
        if len(self.connections) + self.opening >= self.limit:
            given = await self._wait_for_one(timeout)
            if given is not None:
                return given
        else:
            self.opening += 1  # (a waiter is given its slot already counted)
        try:
            conn = await self._connect(timeout)
        except BaseException:
            self.opening -= 1
            self._offer_slot()
            raise
        self.opening -= 1
        if conn.closed:  # lost between connection_made and here
            self._offer_slot()
            raise ConnectionResetError("the upstream closed the new connection at once")
        conn.state = "busy"
        self.in_use += 1
        self.connections.add(conn)
        return conn

    async def _wait_for_one(self, timeout: float) -> Connection | None:
        waiter: asyncio.Future[Connection | None] = self.loop.create_future()
        self.waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except BaseException as exc:
            if (waiter.done() and not waiter.cancelled()
                    and waiter.exception() is None):  # given something just too late
                given = waiter.result()
                if given is None:
                    self.opening -= 1
                    self._offer_slot()
                else:
                    self.release(given, None)
            else:
                with contextlib.suppress(ValueError):
                    self.waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise PoolTimeout(f"all {self.limit} connections to {self.origin.host} stayed "
                                  f"in use for {timeout:g} s") from None
            raise

    async def _connect(self, timeout: float) -> Connection:
        origin = self.origin
        server_hostname = origin.host if self.context is not None else None
        try:
            async with asyncio.timeout(timeout):
                error: OSError | None = None
                for family, host, port in await self._resolve():
                    try:
                        _, conn = await self.loop.create_connection(
                            self._new_connection, host, port, family=family, ssl=self.context,
                            server_hostname=server_hostname)
                        return conn
                    except ssl.SSLError:
                        raise  # the same certificate at every address
                    except OSError as exc:
                        error = exc
                assert error is not None
                raise error
        except TimeoutError:
            raise ConnectTimeout(f"no connection to {origin.host}:{origin.port} within "
                                 f"{timeout:g} s") from None

    def _new_connection(self) -> Connection:
        return Connection(self)

    async def _resolve(self) -> list[tuple[int, str, int]]:
        now = self.loop.time()
        if self._addresses and now < self._resolved_until:
            return self._addresses
        host, port = self.origin.host, self.origin.port
        found: list[tuple[int, str, int]]
        if is_ip(host):
            found = [(socket.AF_INET6 if ":" in host else socket.AF_INET, host, port)]
            until = float("inf")
        else:
            infos = await self.loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            found = list(dict.fromkeys((int(family), str(address[0]), int(address[1]))
                                       for family, _, _, _, address in infos))
            until = now + DNS_TTL
        self._addresses, self._resolved_until = found, until
        return found

    def release(self, conn: Connection, keep_alive: float | None) -> None:
        """``conn`` finished an answer and may serve another: to a waiter, else idle."""
        now = self.loop.time()
        expiry = self.expiry if keep_alive is None else min(self.expiry, keep_alive - _MARGIN)
        conn.expires = now + expiry
        was_busy = conn.state == "busy"
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                if not was_busy:
                    self.in_use += 1
                conn.state = "busy"
                waiter.set_result(conn)
                return
        if was_busy:
            self.in_use -= 1
        conn.state = "idle"
        self.idle.append(conn)
        if now >= self._next_sweep:
            self._sweep(now)

    def draining(self, conn: Connection) -> None:
        """``conn`` is no longer serving anyone, but not free yet (see ``abandon``)."""
        if conn.state == "busy":
            self.in_use -= 1
        conn.state = "draining"

    def drop(self, conn: Connection) -> None:
        """``conn`` is closed: forget it, and let a waiter open one in its place."""
        state = conn.state
        if state == "closed":
            return
        conn.state = "closed"
        if state == "idle":
            with contextlib.suppress(ValueError):
                self.idle.remove(conn)
        elif state == "busy":
            self.in_use -= 1
        self.connections.discard(conn)
        self._offer_slot()

    def _offer_slot(self) -> None:
        while self.waiters and len(self.connections) + self.opening < self.limit:
            waiter = self.waiters.popleft()
            if not waiter.done():
                self.opening += 1
                waiter.set_result(None)

    def _sweep(self, now: float) -> None:
        """Close the idle connections past their expiry (the oldest sit at the bottom)."""
        self._next_sweep = now + max(1.0, self.expiry / 2)
        for conn in [c for c in self.idle if c.expires <= now]:
            conn.close()

    def close(self) -> None:
        for conn in list(self.connections):
            conn.close()
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectionAbortedError("the transport was closed"))
