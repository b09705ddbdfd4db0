"""The proxy's listening socket, taken before anything else is loaded
(:func:`open_listener`); for ``--workers N`` on Linux, one per worker on a shared port.

Imports nothing but ``socket`` and ``sys``: the benchmark's reference forwarder uses it too.
"""

from __future__ import annotations

import socket
import sys

BACKLOG = 2048  # uvicorn's default


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def open_listener(host: str, port: int, workers: int = 1) -> socket.socket:
    """The socket the server will serve on, bound to ``host:port`` (0: any free port);
    ``OSError`` if it cannot be (the port is in use, the host is not this machine's...).

    One worker: a listening socket (clients that come while the config loads wait in the
    backlog).  Several: on Linux a :class:`PerWorkerListener`, else a bound socket the
    workers inherit and listen on."""
    if workers > 1 and sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT"):
        return PerWorkerListener.bind_to(host, port)
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        # Connections of an earlier run still in TIME_WAIT are no obstacle; a socket that
        # listens there is (without SO_REUSEPORT, which would share the port with it).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        if workers <= 1:
            sock.listen(BACKLOG)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def _bound(sock: socket.socket, host: str, port: int) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))


def _listener(family: int, host: str, port: int, backlog: int) -> socket.socket:
    """A worker's own listening socket on the shared address (SO_REUSEPORT)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    _bound(sock, host, port)
    sock.listen(backlog)
    return sock


class PerWorkerListener(socket.socket):
    """``--workers N`` on Linux: the supervisor's socket is bound (so the port is taken and
    known) but never listens; each worker it is handed to -- pickled by uvicorn's spawn --
    opens its own listening socket on the same address instead, and the kernel spreads new
    connections evenly over the workers.  With one shared listening socket, whichever
    worker wakes first takes a burst of new connections (55 of 64 was seen), and the
    second core idles."""

    backlog = BACKLOG

    def __reduce_ex__(self, protocol: object) -> tuple[object, ...]:
        host, port = self.getsockname()[:2]
        return (_listener, (self.family, host, port, self.backlog))

    @classmethod
    def bind_to(cls, host: str, port: int) -> PerWorkerListener:
        """Take ``host:port``; ``OSError`` (address in use) if anything listens there
        already -- even another ``--workers N`` server, whose SO_REUSEPORT sockets would
        otherwise share the port with this one, each getting some of the connections."""
        family = _family(host)
        if port:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                # SO_REUSEADDR: connections of an earlier run still in TIME_WAIT are no
                # obstacle; a listening socket is, with or without SO_REUSEPORT.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
        sock = cls(family, socket.SOCK_STREAM)
        _bound(sock, host, port)
        return sock
