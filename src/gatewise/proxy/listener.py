"""The listening sockets of ``--workers N`` on Linux: one per worker, on a shared port.

Imports nothing but ``socket``: the benchmark's reference forwarder uses it too.
"""

from __future__ import annotations

import socket


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

    backlog = 2048

    def __reduce_ex__(self, protocol: object) -> tuple[object, ...]:
        host, port = self.getsockname()[:2]
        return (_listener, (self.family, host, port, self.backlog))

    @classmethod
    def bind_to(cls, host: str, port: int) -> PerWorkerListener:
        """Take ``host:port``; ``OSError`` (address in use) if anything listens there
        already -- even another ``--workers N`` server, whose SO_REUSEPORT sockets would
        otherwise share the port with this one, each getting some of the connections."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if port:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                # SO_REUSEADDR: connections of an earlier run still in TIME_WAIT are no
                # obstacle; a listening socket is, with or without SO_REUSEPORT.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
        sock = cls(family, socket.SOCK_STREAM)
        _bound(sock, host, port)
        return sock
