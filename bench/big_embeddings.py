"""Big embedding answers through the proxy: time, event-loop stalls and memory.

``python -m bench.big_embeddings [--inputs 2048] [--dims 1024] [--concurrent 5]
[--rounds 3]`` starts a fixed-answer upstream (each answer made once per batch size, sent
as Mistral would: float32 values as JSON numbers) and the proxy (the real CLI), sends
``--concurrent`` requests of ``--inputs`` inputs at once, ``--rounds`` times, while polling
``/health/liveness`` every 5 ms, and reports per round the slowest request, the longest
liveness answer (how long the event loop was held), and the proxy's RSS (``VmRSS``) and
peak (``VmHWM``) before, during and after.  No thresholds: numbers to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).parent.parent


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_upstream(port: int, dims: int) -> None:  # pragma: no cover - runs in a child
    """A Mistral-like ``/v1/embeddings``: the same vectors for every request of a size."""
    from aiohttp import web

    rng = random.Random(1)
    pool = [list(struct.unpack(f"<{dims}f", struct.pack(
        f"<{dims}f", *(rng.gauss(0, 0.05) for _ in range(dims))))) for _ in range(64)]
    answers: dict[int, bytes] = {}

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        count = 1 if isinstance(body["input"], str) else len(body["input"])
        if count not in answers:
            answers[count] = json.dumps({
                "id": "x", "object": "list", "model": body["model"],
                "data": [{"object": "embedding", "embedding": pool[i % len(pool)], "index": i}
                         for i in range(count)],
                "usage": {"prompt_tokens": 3 * count, "total_tokens": 3 * count,
                          "completion_tokens": 0}}).encode()
        return web.Response(body=answers[count], content_type="application/json")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/embeddings", embeddings)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


def _status(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


_POLLER = """
import sys, time, urllib.request
url, worst = sys.argv[1], 0.0
while not sys.stdin.readline().startswith("stop"):
    started = time.perf_counter()
    urllib.request.urlopen(url, timeout=60).read()
    worst = max(worst, time.perf_counter() - started)
    print("ok", flush=True)
print(worst, flush=True)
"""


class _Poller:
    """``/health/liveness`` polled from another process (this one is busy receiving), every
    few ms: the longest answer is the longest the proxy's event loop was held."""

    def __init__(self, url: str) -> None:
        self._child = subprocess.Popen([sys.executable, "-c", _POLLER, url + "/health/liveness"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def tick(self) -> None:
        assert self._child.stdin is not None and self._child.stdout is not None
        self._child.stdin.write("go\n")
        self._child.stdin.flush()
        self._child.stdout.readline()

    def stop(self) -> float:
        out, _ = self._child.communicate("stop\n", timeout=60)
        return float(out.split()[-1])


async def _round(client: httpx.AsyncClient, url: str, inputs: int, concurrent: int
                 ) -> dict[str, float]:
    poller = _Poller(url)
    done = asyncio.Event()

    async def poll() -> None:
        while not done.is_set():
            await asyncio.to_thread(poller.tick)
            await asyncio.sleep(0.005)

    async def one() -> float:
        started = time.perf_counter()
        answer = await client.post(url + "/v1/embeddings", json={
            "model": "embed", "input": [f"hello world {i}" for i in range(inputs)]})
        answer.raise_for_status()
        assert answer.content.count(b'"index"') == inputs  # not parsed: that is slow here
        return time.perf_counter() - started

    polling = asyncio.create_task(poll())
    times = await asyncio.gather(*(one() for _ in range(concurrent)))
    done.set()
    await polling
    return {"slowest_request_s": max(times), "longest_liveness_ms": poller.stop() * 1000}


async def _drive(url: str, pid: int, args: argparse.Namespace) -> list[dict[str, float]]:
    rounds = []
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(
            max_connections=args.concurrent + 2)) as client:
        for _ in range(args.rounds):
            figures = await _round(client, url, args.inputs, args.concurrent)
            during = _status(pid)
            await asyncio.sleep(1.0)
            after = _status(pid)
            rounds.append({**figures, "peak_rss_mb": during["VmHWM"],
                           "rss_after_mb": after["VmRSS"]})
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=2048)
    parser.add_argument("--dims", type=int, default=1024)
    parser.add_argument("--concurrent", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    upstream_port, proxy_port = _free_port(), _free_port()
    upstream = subprocess.Popen([sys.executable, "-c", (
        f"from bench.big_embeddings import serve_upstream; "
        f"serve_upstream({upstream_port}, {args.dims})")], cwd=ROOT)
    with tempfile.TemporaryDirectory() as workdir:
        config = Path(workdir) / "config.yaml"
        config.write_text(json.dumps({"model_list": [{"model_name": "embed", "params": {
            "model": "mistral/mistral-embed", "api_key": "k",
            "api_base": f"http://127.0.0.1:{upstream_port}/v1"}}]}))
        proxy = subprocess.Popen(
            [sys.executable, "-m", "gatewise", "--config", str(config), "--port",
             str(proxy_port), "--log-level", "warning"], cwd=workdir,
            env={k: v for k, v in os.environ.items() if not k.startswith("GATEWISE_")})
        url = f"http://127.0.0.1:{proxy_port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(url + "/health/liveness", timeout=1)
                    httpx.post(f"http://127.0.0.1:{upstream_port}/v1/embeddings",
                               json={"model": "m", "input": "x"}, timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            idle = _status(proxy.pid)["VmRSS"]
            rounds = asyncio.run(_drive(url, proxy.pid, args))
        finally:
            proxy.send_signal(signal.SIGTERM)
            proxy.wait(30)
            upstream.send_signal(signal.SIGTERM)
            upstream.wait(30)
    print(json.dumps({"inputs": args.inputs, "dims": args.dims,
                      "concurrent": args.concurrent, "idle_rss_mb": round(idle, 1),
                      "rounds": [{k: round(v, 1) for k, v in r.items()} for r in rounds]},
                     indent=1))


if __name__ == "__main__":
    main()
