"""SDK figures: import time and per-call overhead of ``completion()`` over a plain httpx POST.

Both sides call the same local fixed-answer upstream (``bench.upstream``) with the same
body, one call at a time, so the difference is what gatewise adds: translation, retries
bookkeeping, parsing into typed objects.  Run: ``python -m bench.sdk [--calls N]``
(``--base URL`` to use an upstream already running, as ``python -m bench`` does with nginx).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from bench.procs import LOAD_CPU, free_port
from bench.servers import python_upstream

RESULTS = Path(__file__).parent / "results"
MESSAGES = [{"role": "user", "content": "hello from gatewise"}]
MODEL = "mistral-small-latest"


@contextmanager
def upstream() -> Iterator[str]:
    """The fixed-answer upstream (``bench.upstream``) on a free port, on the load core, until
    the block ends; yields its ``/v1`` URL."""
    with (tempfile.TemporaryDirectory(prefix="gatewise-sdk-") as tmp,
          python_upstream(Path(tmp), free_port(), LOAD_CPU) as service):
        yield f"http://127.0.0.1:{service.port}/v1"


def import_times(statements: list[str], runs: int) -> list[float]:
    """Median wall time of a fresh interpreter running each statement, in ms; the
    statements take turns, so a slow moment of the machine hits them alike."""
    times: list[list[float]] = [[] for _ in statements]
    for _ in range(runs):
        for i, statement in enumerate(statements):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", statement], check=True)
            times[i].append((time.perf_counter() - start) * 1000)
    return [statistics.median(t) for t in times]


def per_call(fns: list[Callable[[], Any]], calls: int) -> list[float]:
    """Median µs per call of each function over batches of 100 calls, after a warm-up; the
    functions take turns batch by batch."""
    for fn in fns:
        for _ in range(200):
            fn()
    batches: list[list[float]] = [[] for _ in fns]
    for _ in range(max(1, calls // 100)):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            for _ in range(100):
                fn()
            batches[i].append((time.perf_counter() - start) * 1e4)
    return [statistics.median(b) for b in batches]


async def aper_call(fns: list[Callable[[], Any]], calls: int) -> list[float]:
    for fn in fns:
        for _ in range(200):
            await fn()
    batches: list[list[float]] = [[] for _ in fns]
    for _ in range(max(1, calls // 100)):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            for _ in range(100):
                await fn()
            batches[i].append((time.perf_counter() - start) * 1e4)
    return [statistics.median(b) for b in batches]


def run(calls: int, import_runs: int, base: str | None = None) -> dict[str, Any]:
    import httpx

    import gatewise

    results: dict[str, Any] = {}
    (results["python_startup_ms"], results["import_gatewise_ms"],
     results["import_httpx_pydantic_ms"], results["import_gatewise_client_ms"]) = import_times(
        ["pass", "import gatewise", "import httpx, pydantic",
         "import gatewise; gatewise.Client"], import_runs)
    results["import_gatewise_ratio"] = (results["import_gatewise_ms"]
                                        / results["import_httpx_pydantic_ms"])

    with nullcontext(base) if base else upstream() as base_url:
        base = base_url
        body = json.dumps({"model": MODEL, "messages": MESSAGES}).encode()
        headers = {"Authorization": "Bearer bench-key", "Content-Type": "application/json"}
        plain = httpx.Client()

        def plain_call() -> Any:
            return plain.post(f"{base}/chat/completions", content=body, headers=headers).json()

        client = gatewise.Client(api_key="bench-key", api_base=base)

        def gatewise_call() -> Any:
            return client.completion(f"mistral/{MODEL}", MESSAGES)

        results["sync_plain_httpx_us"], results["sync_completion_us"] = per_call(
            [plain_call, gatewise_call], calls)
        results["sync_ratio"] = results["sync_completion_us"] / results["sync_plain_httpx_us"]

        async def async_side() -> tuple[float, float]:
            aplain = httpx.AsyncClient()

            async def aplain_call() -> Any:
                r = await aplain.post(f"{base}/chat/completions", content=body, headers=headers)
                return r.json()

            aclient = gatewise.AsyncClient(api_key="bench-key", api_base=base)

            async def agatewise_call() -> Any:
                return await aclient.completion(f"mistral/{MODEL}", MESSAGES)

            plain_us, ours_us = await aper_call([aplain_call, agatewise_call], calls)
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
    parser.add_argument("--base", help="a running fixed-answer upstream's /v1 URL")
    parser.add_argument("--out", type=Path, default=RESULTS / "sdk.json")
    args = parser.parse_args()
    results = run(args.calls, args.import_runs, args.base)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value:10.3f}")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
