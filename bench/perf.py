"""The performance run: proxy, reference and the raw-asyncio ceiling side by side, in the
same run, on the same upstream, with the same requests (``--servers`` and ``--only`` narrow
it to some servers and scenarios).

Order of work (each server alone on the server core while it is measured, runs interleaved
and repeated so a slow moment of the machine does not pick the winner; per cell the best of
the repeats is kept, all of them are in the JSON):

1. non-streaming chat at 1, 16 and 64 connections (requests/s, p50, p99, server CPU)
2. streaming at 16 connections (streams/s -> events relayed/s) and, one stream at a time,
   the time to the first event; then (nginx only) the same stream paced, ~160 reads each,
   at 64 connections: server CPU per stream (the pace, not the server, sets streams/s)
3. embeddings at 16 connections
4. memory: a fresh process of each, driven with a mix to the checkpoints (50k, 200k)
5. cold start: ``gatewise --config`` (and the reference) until the readiness URL answers
6. ``--workers 2`` on both cores against 1 worker, at 64 connections
7. shared state: the proxy with Redis against without, chat with a limited key at 16
   connections, and the round trips to Redis a request costs (``bench/shared.py``)
8. observability: server CPU a chat request with Prometheus, with OTel exporting, without
   (``bench/observability.py``)
9. SDK: ``bench/sdk.py`` pinned to the server core against nginx
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from bench import memory, nginx, servers, startup
from bench.load import LoadResult, Workload, run_load, stream_timing
from bench.procs import (
    LOAD_CPU,
    ROOT,
    SERVER_CPU,
    Foreign,
    Service,
    cpu_seconds,
    cpus,
    descendants,
    free_port,
    pin_pid,
    pinned,
)
from bench.tools import Tools

CONCURRENCY = (1, 16, 64)
SERVERS = ("proxy", "proxy-keys", "proxy-keys-redis", "reference", "ceiling")
"""Measured side by side by default: the proxy with the master key only, with a virtual
key, the spend ledger and Prometheus, and the same with its state in Redis
(``servers.PROXIES``), the reference forwarder and the raw-asyncio ceiling; on request
the keyed proxy on PostgreSQL (``proxy-keys-pg``: a throwaway cluster on the load core),
the proxy on aiohttp (``proxy-aiohttp``) and gatewise's own per-request work on the
ceiling's plumbing (``floor``: ``bench/floor.py``)."""
ALL_SERVERS = (*SERVERS, "proxy-keys-pg", "proxy-aiohttp", "floor")
SCENARIOS = ("chat", "stream", "paced", "embeddings", "memory", "startup", "workers",
             "shared_state", "observability", "sdk")
QUIET_LIMIT = 10.0  # % of a core used by others during a run before it is repeated
EVENTS = nginx.EVENTS


@dataclass
class Plan:
    seconds: float          # per measured run
    warmup: float           # per server before its first run of a scenario
    repeats: int            # interleaved repeats of each cell
    checkpoints: list[int]  # memory checkpoints, requests
    startup_runs: int
    ttfb_seconds: float
    sdk_calls: int
    sdk_import_runs: int
    workers: tuple[str, ...]  # servers measured with 1 and 2 workers
    # Servers side by side in the throughput scenarios (memory and cold start: the first
    # two), the scenarios to run, and chat's concurrencies.
    servers: tuple[str, ...] = SERVERS
    scenarios: tuple[str, ...] = SCENARIOS
    concurrency: tuple[int, ...] = CONCURRENCY

    @classmethod
    def full(cls, seconds: float) -> Plan:
        return cls(seconds, 2.0, 2, [50_000, 200_000], 5, 3.0, 3000, 15,
                   ("proxy", "reference"))

    @classmethod
    def smoke(cls) -> Plan:
        return cls(1.0, 0.0, 1, [500, 1_500], 1, 0.3, 200, 2, ("proxy",))


class Bench:
    def __init__(self, plan: Plan, tools: Tools, workdir: Path,
                 say: Callable[[str], None] = print) -> None:
        self.plan, self.tools, self.workdir, self.say = plan, tools, workdir, say
        self.upstream: Service | None = None
        self.helpers: list[Any] = []  # more of the benchmark's own processes (Redis)
        self.disturbed = 0  # runs repeated because the machine was busy
        self.postgres_url: str | None = None  # for proxy-keys-pg
        self.redis_port: int | None = None  # for proxy-keys-redis
        self.helper_pids: list[int] = []  # other processes of the run (PostgreSQL): not foreign

    # ------------------------------------------------------------------ helpers

    @property
    def upstream_url(self) -> str:
        assert self.upstream is not None
        return f"http://127.0.0.1:{self.upstream.port}"

    def start_upstream(self) -> None:
        port = free_port()
        if self.tools.nginx:
            self.upstream = nginx.service(self.workdir / "nginx", port).start()
        else:
            self.upstream = servers.python_upstream(self.workdir, port, LOAD_CPU).start()

    def server(self, name: str, **kwargs: Any) -> Service:
        if name in servers.PROXIES:
            return servers.proxy(self.workdir, self.upstream_url, name=name,
                                 database_url=self.postgres_url, redis_port=self.redis_port,
                                 **kwargs)
        if name in ("ceiling", "floor"):
            return servers.ceiling(self.workdir, self.upstream_url, name=name, **kwargs)
        return servers.reference(self.workdir, self.upstream_url, **kwargs)

    def servers(self, names: tuple[str, ...] | None = None, **kwargs: Any
                ) -> dict[str, Service]:
        """The plan's servers (``names``: those of them), not started."""
        chosen = self.plan.servers if names is None else [
            n for n in self.plan.servers if n in names]
        return {name: self.server(name, **kwargs) for name in chosen}

    def load(self, service: Service, work: Workload, connections: int, seconds: float
             ) -> LoadResult:
        """One run; repeated once when something else on the machine used
        more than ``QUIET_LIMIT`` % of a core meanwhile, so a busy neighbour does not pick
        the figures.  The run keeps its ``foreign_cpu_pct``."""
        assert self.upstream is not None
        upstream = self.upstream
        work = self.as_sent_to(service, work)

        def own() -> float:
            return (service.cpu_seconds() + upstream.cpu_seconds()
                    + sum(h.cpu_seconds() for h in self.helpers)
                    + sum(cpu_seconds(p) + sum(map(cpu_seconds, descendants(p)))
                          for p in self.helper_pids))

        result: LoadResult | None = None
        for attempt in range(2):
            before = service.cpu_seconds()
            with Foreign(own) as foreign:
                run = run_load(service.port, work, connections, seconds, self.tools.wrk)
            run.server_cpu_s = service.cpu_seconds() - before
            run.foreign_cpu_pct = foreign.percent_of_a_core
            if result is None or run.foreign_cpu_pct < result.foreign_cpu_pct:
                result = run
            if run.foreign_cpu_pct <= QUIET_LIMIT or seconds < 2:
                break
            self.say(f"  (other processes used {run.foreign_cpu_pct:.0f} % of a core during "
                     f"that run: {'once more' if attempt == 0 else 'keeping the quieter'})")
            self.disturbed += 1
            time.sleep(1.0)
        assert result is not None
        return result

    @staticmethod
    def as_sent_to(service: Service, work: Workload) -> Workload:
        """``work`` with the key ``service`` wants (a keyed proxy's virtual key)."""
        return work if service.key is None else replace(work, key=service.key)

    def cells(self, running: dict[str, Service], work: Workload,
              connections: tuple[int, ...], *, paced: bool = False
              ) -> dict[str, dict[str, Any]]:
        """Each (server, connections) cell measured ``repeats`` times, interleaved; the best
        run (highest requests/s; least CPU a request when the upstream sets the pace) is the
        cell's figure."""
        runs: dict[str, dict[int, list[LoadResult]]] = {n: {c: [] for c in connections}
                                                         for n in running}
        names = list(running)
        if self.plan.warmup:
            for name in names:
                self.load(running[name], work, 16, self.plan.warmup)
        for repeat in range(self.plan.repeats):
            order = names if repeat % 2 == 0 else names[::-1]
            for c in connections:
                for name in order:
                    run = self.load(running[name], work, c, self.plan.seconds)
                    runs[name][c].append(run)
                    self.say(f"  {work.name:<10} {name:<10} c={c:<3} {run.rps:>9,.0f} req/s  "
                             f"p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms  "
                             f"{run.cpu_us_per_request:6.0f} µs CPU/req"
                             + (f"  ERRORS {run.errors}" if run.errors else ""))
        out: dict[str, dict[str, Any]] = {}
        for name in names:
            out[name] = {}
            for c in connections:
                if paced:  # a run that completed nothing, or failed, costs no CPU a stream
                    clean = [r for r in runs[name][c] if r.requests and not r.errors]
                    best = min(clean or runs[name][c], key=lambda r: r.cpu_us_per_request
                               if r.requests else float("inf"))
                else:
                    best = max(runs[name][c], key=lambda r: r.rps)
                out[name][str(c)] = {**best.as_dict(),
                                     "runs": [r.as_dict() for r in runs[name][c]]}
        return out

    # ------------------------------------------------------------------ scenarios

    def throughput(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        running = self.servers()
        wanted = self.plan.scenarios
        try:
            for service in running.values():
                service.start()
            if "chat" in wanted:
                self.say("chat (non-streaming):")
                results["chat"] = self.cells(running, servers.CHAT, self.plan.concurrency)
            if "stream" in wanted:
                self.say("streaming:")
                results["stream"] = self.stream(running)
            if self.tools.nginx and "paced" in wanted:
                self.say("streaming, paced upstream (256 bytes a write):")
                results["paced_stream"] = self.cells(running, servers.PACED_STREAM, (64,),
                                                      paced=True)
                for name in running:
                    cell = results["paced_stream"][name]["64"]
                    cpu = cell["cpu_us_per_request"]
                    cell["events_per_cpu_s"] = EVENTS * 1e6 / cpu if cell["requests"] else None
            if "embeddings" in wanted:
                self.say("embeddings:")
                results["embeddings"] = self.cells(running, servers.EMBED, (16,))
            results["peak_rss_mb_throughput"] = {n: s.peak_rss_mb()
                                                 for n, s in running.items()}
        finally:
            results["exit_codes"] = {n: s.stop() for n, s in running.items()}
        return results

    def stream(self, running: dict[str, Service]) -> dict[str, Any]:
        """Streams at 16 connections, then one at a time (time to the first event)."""
        results = self.cells(running, servers.STREAM, (16,))
        for name, service in running.items():
            timing = stream_timing(service.port, self.as_sent_to(service, servers.STREAM),
                                   self.plan.ttfb_seconds)
            cell = results[name]["16"]
            cell.update(events_per_stream=timing.events_per_stream,
                        events_per_s=cell["rps"] * timing.events_per_stream,
                        ttfb_p50_ms=timing.ttfb_p50_ms, ttfb_p99_ms=timing.ttfb_p99_ms,
                        stream_p50_ms_c1=timing.total_p50_ms,
                        ttfb_streams=timing.streams)
            cell["errors"] += timing.errors
            self.say(f"  stream     {name:<10} first event p50 {timing.ttfb_p50_ms:.2f} ms"
                     f", {timing.events_per_stream:.0f} events/stream, "
                     f"{cell['events_per_s']:,.0f} events/s at c=16")
        return results

    def memory(self) -> dict[str, Any]:
        self.say(f"memory (fresh processes, mixed load to {self.plan.checkpoints} requests):")
        out: dict[str, Any] = {}
        for name, service in self.servers(("proxy", "reference")).items():
            with service:
                workloads = {w.name: self.as_sent_to(service, w)
                             for w in (servers.CHAT, servers.STREAM, servers.EMBED)}
                segment = 3.0 if self.plan.seconds >= 3 else 1.0
                out[name] = memory.drive(service, workloads, self.plan.checkpoints,
                                         self.tools.wrk, segment, say=self.say).as_dict()
        return out

    def cold_start(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bytecode_compiled": startup.compile_sources()}
        for name in ("proxy", "reference"):
            if name not in self.plan.servers:
                continue
            out[name] = startup.cold_start_ms(partial(self.server, name),
                                              self.plan.startup_runs)
            self.say(f"cold start {name:<10} {out[name]['median_ms']:7.0f} ms (median of "
                     f"{out[name]['runs']})")
        return out

    def workers(self) -> dict[str, Any]:
        """1 worker on the server core against 2 workers, one per core (the load generator
        and the upstream share the second core with a worker)."""
        if cpus() < 2:
            return {"skipped": "needs 2 cores"}
        out: dict[str, Any] = {}
        self.say("workers (chat, c=64):")
        for name in self.plan.workers:
            out[name] = {}
            for count in (1, 2):
                service = self.server(name, workers=count, cpu=SERVER_CPU if count == 1
                                      else f"{SERVER_CPU},{LOAD_CPU}")
                with service:
                    if count == 2:
                        self._pin_workers(service)
                    runs = []
                    if self.plan.warmup:
                        self.load(service, servers.CHAT, 64, self.plan.warmup)
                    for _ in range(self.plan.repeats):
                        runs.append(self.load(service, servers.CHAT, 64, self.plan.seconds))
                    best = max(runs, key=lambda r: r.rps)
                    out[name][str(count)] = {**best.as_dict(),
                                             "runs": [r.as_dict() for r in runs]}
                    self.say(f"  {name:<10} workers={count} {best.rps:>9,.0f} req/s  "
                             f"p50 {best.p50_ms:.2f} ms")
            out[name]["ratio"] = out[name]["2"]["rps"] / max(1e-9, out[name]["1"]["rps"])
        return out

    def shared_state(self) -> dict[str, Any]:
        """The proxy with its live state in Redis against in process (``bench/shared.py``)."""
        from bench import shared

        return shared.measure(self)

    def observability(self) -> dict[str, Any]:
        """The proxy with Prometheus, with OTel, without (``bench/observability.py``)."""
        from bench import observability

        return observability.measure(self)

    def _pin_workers(self, service: Service) -> None:
        deadline = time.monotonic() + 10
        workers: list[int] = []
        while time.monotonic() < deadline:
            workers = [p for p in service.server_pids() if p != service.pid]
            if len(workers) >= 2:
                break
            time.sleep(0.05)
        for i, pid in enumerate(sorted(workers)):
            pin_pid(pid, (SERVER_CPU, LOAD_CPU)[i % 2])

    def sdk(self) -> dict[str, Any]:
        """``bench/sdk.py`` in its own process on the server core, against the upstream."""
        out = self.workdir / "sdk.json"
        base = f"{self.upstream_url}/v1"
        cmd = pinned([sys.executable, "-m", "bench.sdk", "--calls", str(self.plan.sdk_calls),
                      "--import-runs", str(self.plan.sdk_import_runs), "--base", base,
                      "--out", str(out)], SERVER_CPU)
        assert self.upstream is not None
        upstream = self.upstream
        best: tuple[float, dict[str, Any]] | None = None
        for attempt in range(2):
            with Foreign(upstream.cpu_seconds) as foreign:
                done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                      timeout=900, check=False,
                                      env={**os.environ, "PYTHONPATH": str(ROOT)})
            if done.returncode != 0:
                raise RuntimeError(f"bench.sdk failed:\n{done.stdout}\n{done.stderr}")
            figures = json.loads(out.read_text())
            figures["foreign_cpu_pct"] = foreign.percent_of_a_core
            if best is None or foreign.percent_of_a_core < best[0]:
                best = (foreign.percent_of_a_core, figures)
            if foreign.percent_of_a_core <= QUIET_LIMIT or self.plan.sdk_calls < 1000:
                break
            verdict = "once more" if attempt == 0 else "keeping the quieter"
            self.say(f"  (other processes used {foreign.percent_of_a_core:.0f} % of a core "
                     f"during the SDK run: {verdict})")
            self.disturbed += 1
        assert best is not None
        out.write_text(json.dumps(best[1]))
        results: dict[str, Any] = json.loads(out.read_text())
        self.say(f"sdk: import gatewise {results['import_gatewise_ms']:.0f} ms vs httpx+pydantic"
                 f" {results['import_httpx_pydantic_ms']:.0f} ms; completion() "
                 f"{results['sync_completion_us']:.0f} µs vs httpx "
                 f"{results['sync_plain_httpx_us']:.0f} µs (sync), "
                 f"{results['async_completion_us']:.0f} vs {results['async_plain_httpx_us']:.0f}"
                 " µs (async)")
        return results

    def run(self) -> dict[str, Any]:
        with contextlib.ExitStack() as stack:
            if any(servers.PROXIES[n].postgres for n in self.plan.servers
                   if n in servers.PROXIES):
                from bench.ledger import durable_postgres

                self.say("postgresql: a throwaway cluster on the load core")
                self.postgres_url = stack.enter_context(
                    durable_postgres(LOAD_CPU, self.helper_pids.append))
            if any(servers.PROXIES[n].redis for n in self.plan.servers
                   if n in servers.PROXIES):
                self.redis_port = stack.enter_context(self._redis())
            return self._run()

    @contextlib.contextmanager
    def _redis(self) -> Iterator[int | None]:
        """A redis-server for the configurations that share their state through one (they
        are left out when none is installed)."""
        from bench.shared import RedisServer

        if shutil.which("redis-server") is None:
            self.say("redis-server is not installed: the Redis configurations are left out")
            self.plan.servers = tuple(n for n in self.plan.servers
                                      if not (n in servers.PROXIES and servers.PROXIES[n].redis))
            yield None
            return
        redis = RedisServer(free_port()).start()
        self.helpers.append(redis)
        try:
            yield redis.port
        finally:
            redis.stop()
            self.helpers.remove(redis)

    def _run(self) -> dict[str, Any]:
        self.start_upstream()
        wanted = self.plan.scenarios
        try:
            results = self.throughput()
            if "memory" in wanted:
                results["memory"] = self.memory()
            if "startup" in wanted:
                results["startup"] = self.cold_start()
            if self.plan.workers and "workers" in wanted:
                results["workers"] = self.workers()
            if "shared_state" in wanted:
                results["shared_state"] = self.shared_state()
            if "observability" in wanted:
                results["observability"] = self.observability()
            if "sdk" in wanted:
                results["sdk"] = self.sdk()
        finally:
            assert self.upstream is not None
            self.upstream.stop()
        return results
