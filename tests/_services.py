"""Real PostgreSQL and Redis servers for the tests, started on free ports in throwaway
folders, and installed from the distribution's packages when missing (as root, with
apt-get: what CI has).  Never mocks: what is tested against them is what runs in production.

PostgreSQL refuses to run as root, so as root its commands run as the ``postgres`` system
user (the Debian package creates it); otherwise as whoever runs the tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tests._net import free_port

T = TypeVar("T")

_PACKAGES = {"postgres": "postgresql", "redis-server": "redis-server"}


class ServiceUnavailable(RuntimeError):
    pass


def _found_or_installed(binary: str, find: Callable[[], T | None]) -> T:
    """What ``find`` finds of ``binary``, its package installed first if it finds nothing.

    The suite's workers (pytest-xdist) may all find it missing at once: they take turns
    (apt-get holds a lock of its own and fails, rather than waits, when another holds it),
    and a worker whose turn comes after another's install finds it there."""
    found = find()
    if found is not None:
        return found
    package = _PACKAGES[binary]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ServiceUnavailable(
            f"{binary} is not installed and cannot be installed here (needs root and "
            f"apt-get): install the {package!r} package to run these tests")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = Path(tempfile.gettempdir()) / "gatewise-tests-apt.lock"
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        found = find()
        if found is None:
            for command in (["apt-get", "update", "-qq"],
                            ["apt-get", "install", "-y", "-qq", package]):
                subprocess.run(command, check=True, env=env, capture_output=True,
                               timeout=600)
            found = find()
    if found is None:
        raise ServiceUnavailable(f"the {package!r} package was installed but {binary} "
                                 "cannot be found")
    return found


def _postgres_bin() -> Path:
    """The folder of PostgreSQL's programs (``initdb``, ``pg_ctl``, ``postgres``)."""
    def find() -> Path | None:
        found = shutil.which("initdb")
        if found:
            return Path(found).resolve().parent
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        return Path(versions[-1]).parent if versions else None

    return _found_or_installed("postgres", find)


def _as_postgres_user() -> list[str]:
    """The prefix that runs a command as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
    runner = shutil.which("runuser") or shutil.which("su")
    assert runner is not None
    return [runner, "-u", "postgres", "--"] if runner.endswith("runuser") else [runner]


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str,
                   timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceUnavailable(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise ServiceUnavailable(f"{what} did not listen on port {port} within {timeout} s")


@dataclass
class Postgres:
    """A running throwaway cluster; ``url(db)`` for a database in it (``create_database``
    makes a fresh one per test)."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    prefix: list[str]
    bindir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [*self.prefix, str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", sql],
            check=True, capture_output=True, text=True, timeout=60)
        return result.stdout

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown: connections are cut), keeping its data."""
        if self.process.poll() is None:
            # Through pg_ctl, to the postmaster itself: a SIGTERM to runuser would reach it
            # as a smart shutdown (which waits for every client to leave), then runuser
            # kills it after 2 s, leaving orphaned backends and a lock file that keeps the
            # next start from working.
            subprocess.run([*self.prefix, str(self.bindir / "pg_ctl"), "stop", "-D",
                            str(self.folder / "data"), "-m", "fast", "-w", "-t", "30"],
                           check=False, capture_output=True, timeout=60)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)

    def start(self) -> None:
        """Start it again on the same port and folder (after ``stop``)."""
        self.process = _start_postgres(self.bindir, self.folder, self.port, self.prefix)


def _start_postgres(bindir: Path, folder: Path, port: int, prefix: list[str]
                    ) -> subprocess.Popen[bytes]:
    log = open(folder / "server.log", "ab")  # noqa: SIM115 - the server owns it
    process = subprocess.Popen(
        [*prefix, str(bindir / "postgres"), "-D", str(folder / "data"), "-p", str(port),
         "-k", str(folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
         "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
         "-c", "max_connections=200"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _wait_for_port(port, process, "postgres")
    deadline = time.monotonic() + 30
    ready = [*prefix, str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port),
             "-U", "postgres"]
    while subprocess.run(ready, check=False, capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            raise ServiceUnavailable("postgres did not become ready")
        time.sleep(0.1)
    return process


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    bindir = _postgres_bin()
    prefix = _as_postgres_user()
    folder = Path(tempfile.mkdtemp(prefix="gatewise-pg-"))
    if prefix:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(folder / "data"), "-A", "trust",
                    "-U", "postgres", "--no-sync", "-E", "UTF8"],
                   check=True, capture_output=True, timeout=120)
    port = free_port()
    server = Postgres(port, folder, _start_postgres(bindir, folder, port, prefix), prefix,
                      bindir)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Redis:
    port: int
    process: subprocess.Popen[bytes]
    args: list[str]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        _wait_for_port(self.port, self.process, "redis-server")


@contextlib.contextmanager
def redis_server(*extra: str) -> Iterator[Redis]:
    """A redis-server on a free port with persistence off (``extra``: more arguments, e.g.
    ``"--requirepass", "secret"``)."""
    binary = _found_or_installed("redis-server", lambda: shutil.which("redis-server"))
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", *extra]
    server = Redis(port, subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True),
                   args)
    try:
        _wait_for_port(port, server.process, "redis-server")
        yield server
    finally:
        server.stop()
