"""The shared-state scenario: the proxy with its live state in Redis against the same proxy
with it in process, on chat at 16 connections.

Both run the same config -- the bench's, plus deployment tpm limits (so every request is
counted against rpm and tpm) and a SQLite database holding one virtual key with an rpm,
tpm and parallel limit and a budget (so every request is admitted against the key's
scopes, reserves its estimated cost and settles its real one) -- and are driven with that
key.  Only ``router_settings.redis_url`` differs.  Redis runs on the load core (in
production it is another machine); its CPU counts as the benchmark's own, not as a busy
neighbour.  The round trips a request costs are counted with ``MONITOR`` during one extra
run (every command a client sent, by name).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import servers
from bench.load import Workload, run_load
from bench.procs import LOAD_CPU, Service, cpu_seconds, free_port, pinned

if TYPE_CHECKING:
    from bench.perf import Bench

KEY = "sk-bench-shared-state-key-0001"
CONNECTIONS = 16


@dataclass
class RedisServer:
    """A redis-server pinned to the load core, persistence off."""

    port: int
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.proc = subprocess.Popen(
            pinned([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no"], LOAD_CPU),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.command("PING") == "PONG":
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def command(self, *args: str) -> str:
        """One command (inline protocol), its answer as text."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(" ".join(args).encode() + b"\r\n")
            data = b""
            while not data.endswith(b"\r\n") or (data.startswith(b"$") and data.count(
                    b"\r\n") < 2):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, rest = data.partition(b"\r\n")
        return (rest if head.startswith(b"$") else head[1:]).decode(errors="replace").strip()

    @contextmanager
    def monitor(self) -> Iterator[Counter[str]]:
        """The commands clients send meanwhile (``MONITOR``; not those a script runs), by
        name (and, for ``EVALSHA``, the script's operation)."""
        seen: Counter[str] = Counter()
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.sendall(b"MONITOR\r\n")
        done = threading.Event()

        def read() -> None:
            buffer = b""
            while not done.is_set():
                try:
                    data = sock.recv(1 << 16)
                except OSError:
                    return
                if not data:
                    return
                *lines, buffer = (buffer + data).split(b"\r\n")
                for line in lines:
                    words = line.split()
                    if not line.startswith(b"+") or b"lua]" in line or len(words) < 4:
                        continue
                    name = words[3].strip(b'"').decode().upper()
                    if name == "EVALSHA" and len(words) > 6:
                        name += " " + words[6].strip(b'"').decode()
                    seen[name] += 1

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        time.sleep(0.2)
        try:
            yield seen
        finally:
            time.sleep(0.5)  # the last lines
            done.set()
            sock.close()
            thread.join(5)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def config(upstream: str, database: Path, redis_port: int | None) -> str:
    text = servers.proxy_config(upstream).replace(
        "      rpm: 1000000\n", "      rpm: 1000000\n      tpm: 1000000000\n")
    if redis_port is not None:
        text = text.replace("router_settings:\n", "router_settings:\n  redis_url: "
                            f"redis://127.0.0.1:{redis_port}/0\n  redis_timeout: 0.2\n")
    return text.replace("general_settings:\n", f"general_settings:\n  database_url: "
                                               f"sqlite:///{database}\n")


async def _add_key(database: Path) -> None:
    """The key the load uses, with every kind of limit (none of them reached)."""
    import sqlalchemy as sa

    from gatewise.db.database import Database
    from gatewise.db.schema import keys
    from gatewise.db.url import parse_database_url
    from gatewise.proxy.access.secrets import digest, key_name

    db = await Database.open(parse_database_url(f"sqlite:///{database}"))
    try:
        now = time.time()
        from datetime import UTC, datetime

        stamp = datetime.fromtimestamp(now, UTC)
        async with db.engine.begin() as connection:
            await connection.execute(sa.insert(keys).values(
                token=digest(KEY), key_name=key_name(KEY), models=[], metadata={},
                blocked=False, spend=0.0, created_at=stamp, updated_at=stamp,
                rpm_limit=100_000_000, tpm_limit=10**12, max_parallel_requests=10_000,
                max_budget=1e9))
    finally:
        await db.close()


def measure(bench: Bench) -> dict[str, Any]:
    if shutil.which("redis-server") is None:
        bench.say("shared state: skipped (redis-server is not installed)")
        return {"skipped": "redis-server is not installed"}
    workdir = bench.workdir / "shared"
    workdir.mkdir(exist_ok=True)
    database = workdir / "keys.db"
    asyncio.run(_add_key(database))
    redis = RedisServer(free_port()).start()
    bench.helpers.append(redis)
    work = Workload("chat-key", servers.CHAT.path, servers.CHAT.body, KEY)
    running: dict[str, Service] = {}
    try:
        for name, port in (("in-process", None), ("redis", redis.port)):
            path = workdir / f"proxy-{name}.yaml"
            path.write_text(config(bench.upstream_url, database, port))
            listen = free_port()
            running[name] = Service(f"proxy ({name})",
                                    servers.gatewise_command(path, listen), listen,
                                    env=servers.ENV, cwd=workdir,
                                    log=workdir / f"proxy-{name}.log").start()
        bench.say(f"shared state (chat with a limited key, router limits, c={CONNECTIONS}):")
        cells = bench.cells(running, work, (CONNECTIONS,))
        with redis.monitor() as commands:  # one run, never repeated (all of it counted)
            run = run_load(running["redis"].port, work, CONNECTIONS,
                           min(bench.plan.seconds, 3.0), bench.tools.wrk)
    finally:
        for service in running.values():
            service.stop()
        redis.stop()
        bench.helpers.remove(redis)
    # The requests in flight when the load stops are not counted by the load generator but
    # their round trips are: the figure is a hair above the real one.
    requests = max(1, run.requests)
    local = cells["in-process"][str(CONNECTIONS)]["rps"]
    shared = cells["redis"][str(CONNECTIONS)]["rps"]
    cpu_local = cells["in-process"][str(CONNECTIONS)]["cpu_us_per_request"]
    cpu_shared = cells["redis"][str(CONNECTIONS)]["cpu_us_per_request"]
    out = {
        "in_process": cells["in-process"], "redis": cells["redis"],
        "ratio": shared / local if local else None,
        # requests per CPU-second, Redis ÷ in process: the figure a busy machine disturbs least
        "cpu_ratio": cpu_local / cpu_shared if cpu_shared else None,
        "round_trips_per_request": sum(commands.values()) / requests,
        "commands": dict(commands), "counted_requests": run.requests,
    }
    bench.say(f"  redis ÷ in-process: requests/s {out['ratio']:.2f}, requests per CPU-second "
              f"{out['cpu_ratio']:.2f}; round trips to Redis per request: "
              f"{out['round_trips_per_request']:.2f}")
    return out
