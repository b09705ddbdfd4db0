"""SDK figures: import time and per-call overhead of ``completion()`` over a plain httpx POST.

Both sides call the same local fixed-answer upstream (``bench.upstream``) with the same
body, one call at a time, so the difference is what gatewise adds: translation, retries
bookkeeping, parsing into typed objects.  Run: ``python -m bench.sdk [--calls N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
MESSAGES = [{"role": "user", "content": "hello from gatewise"}]
MODEL = "mistral-small-latest"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def upstream(port: int | None = None) -> Iterator[str]:
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.upstream", "--port", str(port)],
                            cwd=Path(__file__).parent.parent)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(5)


def import_time(statement: str, runs: int) -> float:
    """Median wall time of a fresh interpreter running ``statement``, in ms."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def per_call(fn: Callable[[], Any], calls: int) -> float:
    """Median µs per call over batches of 100 calls, after a warm-up."""
    for _ in range(200):
        fn()
    batches = []
    for _ in range(max(1, calls // 100)):
        start = time.perf_counter()
        for _ in range(100):
            fn()
        batches.append((time.perf_counter() - start) * 1e4)
    return statistics.median(batches)


async def aper_call(fn: Callable[[], Any], calls: int) -> float:
    for _ in range(200):
        await fn()
    batches = []
    for _ in range(max(1, calls // 100)):
        start = time.perf_counter()
        for _ in range(100):
            await fn()
        batches.append((time.perf_counter() - start) * 1e4)
    return statistics.median(batches)


def run(calls: int, import_runs: int) -> dict[str, Any]:
    import httpx

    import gatewise

    results: dict[str, Any] = {}
    baseline = import_time("pass", import_runs)
    results["python_startup_ms"] = baseline
    results["import_gatewise_ms"] = import_time("import gatewise", import_runs)
    results["import_httpx_pydantic_ms"] = import_time("import httpx, pydantic", import_runs)
    results["import_gatewise_ratio"] = (results["import_gatewise_ms"]
                                        / results["import_httpx_pydantic_ms"])
    results["import_gatewise_client_ms"] = import_time(
        "import gatewise; gatewise.Client", import_runs)

    with upstream() as base:
        body = json.dumps({"model": MODEL, "messages": MESSAGES}).encode()
        headers = {"Authorization": "Bearer bench-key", "Content-Type": "application/json"}
        plain = httpx.Client()

        def plain_call() -> Any:
            return plain.post(f"{base}/chat/completions", content=body, headers=headers).json()

        client = gatewise.Client(api_key="bench-key", api_base=base)

        def gatewise_call() -> Any:
            return client.completion(f"mistral/{MODEL}", MESSAGES)

        results["sync_plain_httpx_us"] = per_call(plain_call, calls)
        results["sync_completion_us"] = per_call(gatewise_call, calls)
        results["sync_ratio"] = results["sync_completion_us"] / results["sync_plain_httpx_us"]

        async def async_side() -> tuple[float, float]:
            aplain = httpx.AsyncClient()

            async def aplain_call() -> Any:
                r = await aplain.post(f"{base}/chat/completions", content=body, headers=headers)
                return r.json()

            aclient = gatewise.AsyncClient(api_key="bench-key", api_base=base)

            async def agatewise_call() -> Any:
                return await aclient.completion(f"mistral/{MODEL}", MESSAGES)

            plain_us = await aper_call(aplain_call, calls)
            ours_us = await aper_call(agatewise_call, calls)
            await aplain.aclose()
            await aclient.aclose()
            return plain_us, ours_us

        results["async_plain_httpx_us"], results["async_completion_us"] = asyncio.run(
            async_side())
        results["async_ratio"] = results["async_completion_us"] / results["async_plain_httpx_us"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--import-runs", type=int, default=15)
    args = parser.parse_args()
    results = run(args.calls, args.import_runs)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sdk.json").write_text(json.dumps(results, indent=2) + "\n")
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value:10.3f}")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
