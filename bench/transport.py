"""The upstream transports alone: CPU per request of each asyncio transport (and of a raw
httptools keep-alive client, the floor) sending the proxy's chat request to the upstream,
``--concurrency`` at a time, on uvloop, in one process pinned to the server core.

    python -m bench.transport --upstream http://127.0.0.1:8090 [--seconds 5]

Without ``--upstream`` it starts nginx (or ``bench/upstream.py``) on the load core itself.
What it says is the transport's own cost, without the proxy around it: the figure that
chose the proxy's default (``general_settings.upstream_transport``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import nginx
from bench.procs import SERVER_CPU, free_port, pin_self
from bench.servers import CHAT
from bench.tools import ensure

HEADERS = {"Authorization": "Bearer upstream-key", "Content-Type": "application/json",
           "Accept": "application/json", "User-Agent": "gatewise/0.1.0"}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _drive(send: Any, concurrency: int, seconds: float) -> dict[str, float]:
    for _ in range(200):  # warm: connections open, caches filled
        await send()
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await send()
            done += 1

    cpu, start = _cpu(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, used = time.perf_counter() - start, _cpu() - cpu
    return {"requests": done, "rps": done / elapsed, "cpu_us_per_request": used / done * 1e6}


async def measure(name: str, url: str, concurrency: int, seconds: float) -> dict[str, float]:
    from gatewise._http import Request, Timeout

    timeout = Timeout(read=30, connect=10)
    request = Request("POST", url, HEADERS, CHAT.body)
    if name == "raw":
        return await _raw(url, concurrency, seconds)
    if name == "lean":
        from gatewise._http._h1 import LeanTransport

        transport: Any = LeanTransport()
    else:
        from gatewise._http._aiohttp import AiohttpTransport

        transport = AiohttpTransport()

    async def send() -> None:
        response = await transport.request(request, timeout)
        assert response.status == 200, response.status

    try:
        return await _drive(send, concurrency, seconds)
    finally:
        await transport.aclose()


async def _raw(url: str, concurrency: int, seconds: float) -> dict[str, float]:
    """The floor: a bare protocol per connection, httptools parsing, nothing else."""
    from urllib.parse import urlsplit

    from httptools import HttpResponseParser

    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    data = (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in HEADERS.items())
        + f"Content-Length: {len(CHAT.body)}\r\n\r\n").encode() + CHAT.body

    class Raw(asyncio.Protocol):
        def __init__(self) -> None:
            self.parser = HttpResponseParser(self)
            self.parts: list[bytes] = []
            self.waiter: asyncio.Future[bytes] | None = None

        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

        def on_body(self, body: bytes) -> None:
            self.parts.append(body)

        def on_message_complete(self) -> None:
            assert self.waiter is not None
            self.waiter.set_result(b"".join(self.parts))
            self.parts = []

    idle: list[Raw] = []

    async def send() -> None:
        conn = idle.pop() if idle else (await loop.create_connection(
            Raw, parts.hostname, parts.port))[1]
        conn.waiter = loop.create_future()
        conn.transport.write(data)
        await conn.waiter
        idle.append(conn)

    return await _drive(send, concurrency, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", default=None)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--transports", default="raw,lean,aiohttp")
    args = parser.parse_args()
    service = None
    upstream = args.upstream
    if upstream is None:
        found = ensure(install=False, say=print)
        port = free_port()
        if not found.nginx:
            raise SystemExit("no nginx: give --upstream (python -m bench.upstream)")
        service = nginx.service(Path(tempfile.mkdtemp(prefix="bench-nginx-")), port).start()
        upstream = f"http://127.0.0.1:{port}"
    pin_self(SERVER_CPU)
    import uvloop

    url = upstream + "/v1/chat/completions"
    results: dict[str, list[dict[str, float]]] = {}
    try:
        for _ in range(args.repeats):  # interleaved: a busy moment does not pick a winner
            for name in args.transports.split(","):
                run = uvloop.run(measure(name, url, args.concurrency, args.seconds))
                results.setdefault(name, []).append(run)
                print(f"{name:<8} {run['rps']:>9,.0f} req/s  "
                      f"{run['cpu_us_per_request']:6.1f} µs CPU/request", flush=True)
    finally:
        if service is not None:
            service.stop()
    best = {n: min(r["cpu_us_per_request"] for r in runs) for n, runs in results.items()}
    print(json.dumps({"concurrency": args.concurrency, "best_cpu_us_per_request": best}))


if __name__ == "__main__":
    main()
