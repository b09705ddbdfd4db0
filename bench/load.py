"""Load generation: wrk (with a Lua script for the POST body and the key) on the load core,
or, where wrk is missing, a pure-Python keep-alive loop; plus the streaming client that
times the first event.

Every run returns a :class:`LoadResult`; the caller adds the server's CPU time.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench.client import Connection, build_request, count_events, percentile
from bench.procs import LOAD_CPU, pinned

T = TypeVar("T")


@dataclass
class Workload:
    """What one request looks like."""

    name: str
    path: str
    body: bytes
    key: str | None


@dataclass
class LoadResult:
    tool: str
    connections: int
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float = 0.0
    foreign_cpu_pct: float = 0.0  # CPU used by processes not part of the run, % of a core

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s / self.requests * 1e6 if self.requests else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cpu_us_per_request"] = self.cpu_us_per_request
        return out


# ----------------------------------------------------------------------------- wrk

def _lua(work: Workload) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(work.body.decode())}",
             'wrk.headers["Content-Type"] = "application/json"']
    if work.key:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {work.key}"')
    return "\n".join(lines) + "\n"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str, connections: int) -> LoadResult:
    def find(pattern: str) -> re.Match[str] | None:
        return re.search(pattern, output, re.MULTILINE)

    done = find(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)")
    rps = find(r"^Requests/sec:\s*([\d.]+)")
    p50 = find(r"^\s*50%\s+(\S+)")
    p99 = find(r"^\s*99%\s+(\S+)")
    if not (done and rps and p50 and p99):
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    errors = 0
    if socket_errors := find(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                             r"timeout (\d+)"):
        errors += sum(int(g) for g in socket_errors.groups())
    if non2xx := find(r"Non-2xx or 3xx responses: (\d+)"):
        errors += int(non2xx.group(1))
    return LoadResult("wrk", connections, _ms(done.group(2) + done.group(3)) / 1000,
                      int(done.group(1)), errors, float(rps.group(1)),
                      _ms(p50.group(1)), _ms(p99.group(1)))


def wrk(port: int, work: Workload, connections: int, seconds: float) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(work))
    try:
        cmd = pinned(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                      "--timeout", "30s", "--latency", "-s", script.name,
                      f"http://127.0.0.1:{port}{work.path}"], LOAD_CPU)
        out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                             timeout=seconds + 60).stdout
    finally:
        Path(script.name).unlink()
    return parse_wrk(out, connections)


# ----------------------------------------------------------------------------- pure Python

async def _python_load(port: int, work: Workload, connections: int, seconds: float
                       ) -> LoadResult:
    raw = build_request(work.path, work.body, work.key)
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def one_connection() -> None:
        nonlocal errors
        conn = Connection(port)
        try:
            while time.perf_counter() < stop:
                try:
                    answer = await conn.request(raw)
                except (OSError, asyncio.IncompleteReadError):
                    errors += 1
                    await conn.close()
                    continue
                latencies.append(answer.total)
                if answer.status >= 400:
                    errors += 1
        finally:
            await conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    return LoadResult("python", connections, elapsed, len(latencies), errors,
                      len(latencies) / elapsed, percentile(latencies, 0.5) * 1000,
                      percentile(latencies, 0.99) * 1000)


def python_load(port: int, work: Workload, connections: int, seconds: float) -> LoadResult:
    return run_async(_python_load(port, work, connections, seconds))


def run_load(port: int, work: Workload, connections: int, seconds: float,
             use_wrk: bool) -> LoadResult:
    if use_wrk:
        return wrk(port, work, connections, seconds)
    return python_load(port, work, connections, seconds)


# ----------------------------------------------------------------------------- streaming

@dataclass
class StreamTiming:
    streams: int
    events_per_stream: float
    ttfb_p50_ms: float
    ttfb_p99_ms: float
    total_p50_ms: float
    errors: int


async def _stream_timing(port: int, work: Workload, seconds: float, max_streams: int
                         ) -> StreamTiming:
    """One connection, one stream at a time: time to the first event and events counted."""
    raw = build_request(work.path, work.body, work.key)
    conn = Connection(port)
    first: list[float] = []
    total: list[float] = []
    events: list[int] = []
    errors = 0
    stop = time.perf_counter() + seconds
    try:
        while time.perf_counter() < stop and len(first) < max_streams:
            answer = await conn.request(raw)
            if answer.status != 200:
                errors += 1
                continue
            first.append(answer.first_byte)
            total.append(answer.total)
            events.append(count_events(answer.body))
    finally:
        await conn.close()
    return StreamTiming(len(first), sum(events) / max(1, len(events)),
                        percentile(first, 0.5) * 1000, percentile(first, 0.99) * 1000,
                        percentile(total, 0.5) * 1000, errors)


def stream_timing(port: int, work: Workload, seconds: float, max_streams: int = 100_000
                  ) -> StreamTiming:
    return run_async(_stream_timing(port, work, seconds, max_streams))


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with the proxy extra
        return asyncio.run(coro)
    return uvloop.run(coro)
