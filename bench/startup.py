"""Cold start: spawn the server (pinned) and poll its readiness URL in a tight loop from the
load core; the time until the first 200, median of a few runs, each a fresh process."""

from __future__ import annotations

import statistics
from collections.abc import Callable

from bench.procs import Service


def cold_start_ms(make: Callable[[], Service], runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        service = make()
        try:
            service.start()
            times.append(service.started_ms)
        finally:
            service.stop()
    return {"median_ms": statistics.median(times), "min_ms": min(times),
            "max_ms": max(times), "runs": len(times)}
