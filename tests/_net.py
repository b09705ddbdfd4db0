"""Loopback ports for tests: a free one, and ones that misbehave on purpose (for
connection-fault tests)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator


@contextlib.contextmanager
def unanswered_port() -> Iterator[int]:
    """A port whose accept queue is full: a new connect() hangs until the connecting side's
    timeout, as with a firewall that drops packets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port: int = server.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()


def free_port() -> int:
    """A port nothing listens on (bound, then released): free to listen on, and refused
    to whoever connects to it meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


refused_port = free_port  # the same, named for what a connection to it gets


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and reads whatever comes, but never answers (a
    server that hangs): what a client sees of a Redis stuck in a long command, or a
    firewall that keeps connections half open."""
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.1)
    port: int = server.getsockname()[1]
    accepted: list[socket.socket] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                connection, _ = server.accept()
            except OSError:  # the timeout: look at `done` again
                continue
            connection.setblocking(False)
            accepted.append(connection)
            for other in accepted:  # read (and drop) what came, so nothing fills up
                with contextlib.suppress(OSError):
                    other.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        done.set()
        thread.join()
        for connection in accepted:
            connection.close()
        server.close()
