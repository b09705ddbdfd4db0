"""Cold start: spawn the server (pinned) and poll its readiness URL in a tight loop from the
load core; the time until the first 200, median of a few runs, each a fresh process.

The code the servers run is compiled to bytecode first, as ``pip install`` compiles a
package it installs: a checkout installed in editable mode under
``PYTHONDONTWRITEBYTECODE`` (set on some machines and in some containers) never gets its
``.pyc`` files written, and every start would compile the project's own modules from
source again (~150-300 ms of the proxy's start here; the reference is one module)."""

from __future__ import annotations

import compileall
import statistics
from collections.abc import Callable
from pathlib import Path

from bench.procs import ROOT, Service


def compile_sources() -> bool:
    """gatewise's modules and the bench's, compiled where they are (as pip would at
    install; up-to-date ``.pyc`` files are left alone).  False when some could not be."""
    import gatewise

    folders = {Path(gatewise.__file__).resolve().parent, ROOT / "bench"}
    return all(compileall.compile_dir(folder, quiet=1) for folder in sorted(folders))


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
