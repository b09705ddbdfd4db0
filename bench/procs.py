"""Processes under test: started pinned to one core with ``taskset``, waited for, measured
(RSS, CPU time, open files, threads) through ``/proc``, and always stopped.

The benchmark is for 2-core Linux machines: the server under test gets core 0
(``SERVER_CPU``), the load generator and the fixed-answer upstream share core 1
(``LOAD_CPU``).  The orchestrating process pins itself to ``LOAD_CPU`` too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU = 0
LOAD_CPU = 1
CLK_TCK = os.sysconf("SC_CLK_TCK")
_USABLE = len(os.sched_getaffinity(0))  # before pin_self narrows it


def cpus() -> int:
    """Cores this process could use when it started."""
    return _USABLE


def pinned(cmd: Sequence[str], cpu: int | str) -> list[str]:
    """``cmd`` run under ``taskset -c cpu`` (unchanged where taskset is missing or there is
    only one core: the figures then say so in ``meta``)."""
    if shutil.which("taskset") is None or cpus() < 2:
        return list(cmd)
    return ["taskset", "-c", str(cpu), *cmd]


def pin_self(cpu: int) -> None:
    with contextlib.suppress(OSError):
        if cpus() >= 2:
            os.sched_setaffinity(0, {cpu})


def pin_pid(pid: int, cpu: int) -> None:
    with contextlib.suppress(OSError):
        os.sched_setaffinity(pid, {cpu})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_get(port: int, path: str, timeout: float = 1.0) -> int | None:
    """Status of a tiny ``GET`` on loopback, or None when nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                      .encode())
            head = s.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def http_post_json(port: int, path: str, body: dict[str, object], key: str,
                   timeout: float = 10.0) -> dict[str, object]:
    """POST ``body`` as JSON with ``key`` as the bearer token; the JSON answer (raises
    unless it is a 200)."""
    import http.client
    import json

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", path, json.dumps(body),
                           {"Authorization": f"Bearer {key}",
                            "Content-Type": "application/json"})
        answer = connection.getresponse()
        text = answer.read()
    finally:
        connection.close()
    if answer.status != 200:
        raise RuntimeError(f"POST {path}: {answer.status} {text[:300]!r}")
    found: dict[str, object] = json.loads(text)
    return found


# ----------------------------------------------------------------------------- /proc readers

def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def rss_mb(pid: int) -> float:
    return _status_kb(pid, "VmRSS") / 1024


def peak_rss_mb(pid: int) -> float:
    return _status_kb(pid, "VmHWM") / 1024


def threads(pid: int) -> int:
    return _status_kb(pid, "Threads")


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def _tcp_remote_ports() -> dict[str, int]:
    """socket inode -> remote port, for every TCP socket of the machine."""
    ports: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9:
                ports[fields[9]] = int(fields[2].rsplit(":", 1)[1], 16)
    return ports


def fd_breakdown(pid: int, upstream_port: int) -> dict[str, int]:
    """Open descriptors of ``pid``: all, those that are connections to the upstream (a
    pool, bounded by its own rules) and the rest (which must not grow)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return {"all": 0, "upstream": 0, "other": 0}
    links = []
    for fd in fds:
        with contextlib.suppress(OSError):  # closed meanwhile
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    ports = _tcp_remote_ports()
    upstream = sum(1 for link in links if link.startswith("socket:[")
                   and ports.get(link[8:-1]) == upstream_port)
    return {"all": len(links), "upstream": upstream, "other": len(links) - upstream}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (its threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        out += kids
        todo += kids
    return out


def busy_jiffies() -> int:
    """CPU time (clock ticks) all cores spent running tasks since boot: user, nice, system
    and steal.  Interrupt time is left out: loopback traffic is handled there, and it is
    the benchmark's own traffic that nobody is billed for."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = (int(v) for v in fields[:8])
    return user + nice + system + steal


class Foreign:
    """How much CPU something other than the benchmark's own processes used meanwhile: the
    machine was not quiet when this is more than a few percent of a core."""

    def __init__(self, own: Callable[[], float]) -> None:
        self.own = own

    def __enter__(self) -> Foreign:
        self.start = time.perf_counter()
        self.busy0 = busy_jiffies()
        self.own0 = self.own() + _own_and_children()
        return self

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self.start
        busy = (busy_jiffies() - self.busy0) / CLK_TCK
        own = self.own() + _own_and_children() - self.own0
        self.percent_of_a_core = max(0.0, (busy - own) / elapsed * 100) if elapsed else 0.0


def wait_until_quiet(limit_pct: float, max_wait: float, window: float = 5.0,
                     say: Callable[[str], None] = print) -> float:
    """Wait (up to ``max_wait`` s) for a ``window`` during which the machine's busy time,
    other than ours, stays under ``limit_pct`` % of a core; the last window's figure."""
    deadline = time.monotonic() + max_wait
    while True:
        with Foreign(lambda: 0.0) as foreign:
            time.sleep(window)
        if foreign.percent_of_a_core <= limit_pct or time.monotonic() >= deadline:
            return foreign.percent_of_a_core
        say(f"bench: the machine is busy ({foreign.percent_of_a_core:.0f} % of a core used by "
            "other processes): waiting")


def _own_and_children() -> float:
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


# ----------------------------------------------------------------------------- services

@dataclass
class Service:
    """One long-running process the benchmark talks to over loopback HTTP."""

    name: str
    cmd: list[str]
    port: int
    ready_path: str = "/health/readiness"
    cpu: int | str = SERVER_CPU
    env: dict[str, str] | None = None
    cwd: Path = ROOT
    log: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started_ms: float = 0.0  # spawn until the first 200 on ready_path
    start_timeout: float = 30.0
    prepare: Callable[[Service], None] | None = field(default=None, repr=False)
    """Run once it is ready (not timed): e.g. make the virtual key its requests carry."""
    key: str | None = field(default=None, repr=False)
    """The key its requests carry instead of the workload's (a virtual key)."""

    def start(self, timeout: float | None = None) -> Service:
        timeout = timeout or self.start_timeout
        env = {**os.environ, **(self.env or {})}
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        begin = time.perf_counter()
        self.proc = subprocess.Popen(pinned(self.cmd, self.cpu), cwd=self.cwd, env=env,
                                     stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if self.log and not isinstance(out, int):
            out.close()
        deadline = begin + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before it "
                                   f"was ready{self._log_tail()}")
            if http_get(self.port, self.ready_path, timeout=0.5) == 200:
                self.started_ms = (time.perf_counter() - begin) * 1000
                if self.prepare is not None:
                    self.prepare(self)
                return self
            time.sleep(0.002)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready after {timeout:.0f} s{self._log_tail()}")

    def _log_tail(self) -> str:
        if self.log is None or not self.log.exists():
            return ""
        lines = self.log.read_text(errors="replace").splitlines()[-15:]
        return "; its log ends:\n    " + "\n    ".join(lines)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def server_pids(self) -> list[int]:
        """The processes doing the serving: the process itself, or with several workers
        (uvicorn's supervisor spawns them) the workers."""
        workers = [p for p in descendants(self.pid) if b"spawn_main" in _cmdline(p)]
        return workers or [self.pid]

    def rss_mb(self) -> float:
        return sum(rss_mb(p) for p in self.server_pids())

    def peak_rss_mb(self) -> float:
        return sum(peak_rss_mb(p) for p in self.server_pids())

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid) + sum(cpu_seconds(p) for p in descendants(self.pid))

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            return None

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]
