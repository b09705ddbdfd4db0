"""Memory under load: RSS (``/proc/<pid>/status`` VmRSS, peak VmHWM), open files and threads
of a fresh server after N requests, for checkpoints such as 50k and 200k.

The requests are a mix, driven in short segments on the load core: mostly non-streaming
chat, some embeddings, some streams; the count is what the load generator saw completed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.load import LoadResult, Workload, run_load
from bench.procs import Service, open_fds, threads

SEGMENT_MIX = ("chat", "chat", "embeddings", "chat", "stream")


@dataclass
class Checkpoint:
    requests: int
    rss_mb: float
    open_fds: int
    threads: int


@dataclass
class MemoryResult:
    checkpoints: list[Checkpoint] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    idle_rss_mb: float = 0.0
    errors: int = 0
    seconds: float = 0.0

    def growth_pct(self) -> float:
        if len(self.checkpoints) < 2 or not self.checkpoints[0].rss_mb:
            return 0.0
        first, last = self.checkpoints[0].rss_mb, self.checkpoints[-1].rss_mb
        return (last - first) / first * 100

    def as_dict(self) -> dict[str, Any]:
        return {"idle_rss_mb": self.idle_rss_mb, "peak_rss_mb": self.peak_rss_mb,
                "checkpoints": [vars(c) for c in self.checkpoints],
                "growth_pct": self.growth_pct(), "errors": self.errors,
                "seconds": self.seconds}


def _snapshot(service: Service, done: int) -> Checkpoint:
    pid = service.server_pids()[0]
    return Checkpoint(done, service.rss_mb(), open_fds(pid), threads(pid))


def drive(service: Service, workloads: dict[str, Workload], checkpoints: list[int],
          use_wrk: bool, segment_seconds: float = 3.0, connections: int = 16,
          say: Any = print, max_seconds: float = 3600.0) -> MemoryResult:
    """Send the mix until each checkpoint's request count is reached (or ``max_seconds``
    of load went by: the checkpoint then records the count reached); snapshot there."""
    result = MemoryResult(idle_rss_mb=service.rss_mb())
    done, step = 0, 0
    for target in checkpoints:
        while done < target and result.seconds < max_seconds:
            work = workloads[SEGMENT_MIX[step % len(SEGMENT_MIX)]]
            step += 1
            run: LoadResult = run_load(service.port, work, connections, segment_seconds,
                                       use_wrk)
            done += run.requests
            result.errors += run.errors
            result.seconds += run.seconds
        result.checkpoints.append(_snapshot(service, done))
        say(f"  {service.name}: {done:,} requests, RSS {result.checkpoints[-1].rss_mb:.1f} MB")
    result.peak_rss_mb = service.peak_rss_mb()
    return result
