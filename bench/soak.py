"""``python -m bench soak``: load and soak, then a graceful shutdown.  Not timed in CI.

The proxy (the real CLI with one extra probe route, ``bench/soak_server.py``) runs against
nginx with upstream faults on: ~3 % of chat answers are Mistral-shaped 500 / 503 (0.02 %
429), 1.5 % of stream requests get a 500; the router retries on the other deployment.
``--requests`` (default 200k) requests from 32 keep-alive clients, a mix of:

- chat, streams, embeddings (the answers are checked: JSON with choices / every one of the
  200 events and ``[DONE]`` / vectors; an upstream fault the router could not absorb must
  come back as an OpenAI-shaped error, counted as *surfaced*, not as unexpected);
- clients that hang up mid-stream, or right after sending a request;
- malformed bodies and unknown models (must be 400 / 404 OpenAI-shaped errors).

Sampled along the way: RSS, open file descriptors, threads, and (through the probe) live
asyncio tasks.  Then SIGTERM while slow requests and streams are in flight: the proxy must
stop accepting at once, finish them all, and exit 0 within its grace period.

Verdicts: zero unexpected errors (answers, proxy log tracebacks), RSS growth from the first
quarter to the end ≤ 5 %, open files and idle tasks back to where they were after warm-up,
and a clean graceful shutdown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import nginx, servers
from bench.client import Connection, build_request, count_events
from bench.load import Workload, run_async
from bench.procs import ROOT, SERVER_CPU, Service, fd_breakdown, free_port, python, threads
from bench.soak_server import PROBE_PATH
from bench.tools import Tools

CLIENTS = 32
GRACE_SECONDS = 10.0  # the proxy's graceful-shutdown period (gatewise.proxy.server)
FAULT_STATUSES = {429, 500, 502, 503, 504}
MIX = (("chat", 55), ("stream", 20), ("embeddings", 10), ("stream_hangup", 7),
       ("chat_hangup", 4), ("bad_json", 2), ("unknown_model", 2))


@dataclass
class Tally:
    done: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    surfaced: Counter[str] = field(default_factory=Counter)
    surfaced_examples: dict[str, str] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)

    def bad(self, kind: str, what: str) -> None:
        if len(self.unexpected) < 50:
            self.unexpected.append(f"{kind}: {what}")
        else:
            self.unexpected.append("")


def _is_error_json(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("error"), dict) \
        and "message" in data["error"]


def _check(kind: str, status: int, body: bytes, tally: Tally) -> None:
    if kind in ("bad_json", "unknown_model"):
        want = 400 if kind == "bad_json" else 404
        if status != want or not _is_error_json(body):
            tally.bad(kind, f"status {status}, body {body[:200]!r}")
        return
    if status != 200:
        if status in FAULT_STATUSES and _is_error_json(body):
            tally.surfaced[f"{kind} {status}"] += 1
            tally.surfaced_examples.setdefault(f"{kind} {status}",
                                               body[:300].decode(errors="replace"))
        else:
            tally.bad(kind, f"status {status}, body {body[:200]!r}")
        return
    if kind == "stream":
        events = count_events(body)
        if body.endswith(b"data: [DONE]\n\n") and events == nginx.EVENTS:
            return
        last = body.rstrip().rsplit(b"\n\n", 1)[-1]
        if last.startswith(b"data: {\"error\""):
            tally.surfaced["stream error event"] += 1
        else:
            tally.bad(kind, f"{events} events, ends {body[-120:]!r}")
        return
    try:
        data = json.loads(body)
    except ValueError:
        tally.bad(kind, f"not JSON: {body[:200]!r}")
        return
    key = "choices" if kind == "chat" else "data"
    if not data.get(key):
        tally.bad(kind, f"no {key}: {body[:200]!r}")


async def _client(port: int, total: int, tally: Tally, rng: random.Random) -> None:
    requests = {
        "chat": build_request(servers.CHAT.path, servers.CHAT.body, servers.MASTER_KEY),
        "stream": build_request(servers.STREAM.path, servers.STREAM.body, servers.MASTER_KEY),
        "embeddings": build_request(servers.EMBED.path, servers.EMBED.body,
                                    servers.MASTER_KEY),
        "bad_json": build_request(servers.CHAT.path, servers.CHAT.body[:-7],
                                  servers.MASTER_KEY),
        "unknown_model": build_request(servers.CHAT.path, servers.CHAT.body.replace(
            servers.CHAT_MODEL.encode(), b"no-such-model"), servers.MASTER_KEY),
    }
    requests["stream_hangup"] = requests["stream"]
    requests["chat_hangup"] = requests["chat"]
    kinds, weights = zip(*MIX, strict=True)
    conn = Connection(port)
    try:
        while tally.done < total:
            kind = rng.choices(kinds, weights)[0]
            tally.done += 1
            tally.kinds[kind] += 1
            try:
                if kind == "chat_hangup":
                    _, writer = await conn._connect()
                    writer.write(requests[kind])
                    await writer.drain()
                    await conn.close()
                    continue
                answer = await conn.request(requests[kind], read_bytes=rng.randint(300, 20_000)
                                            if kind == "stream_hangup" else None)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                tally.bad(kind, f"{type(exc).__name__}: {exc}")
                await conn.close()
                continue
            if kind == "stream_hangup":
                if answer.status != 200 and not (answer.status in FAULT_STATUSES
                                                 and _is_error_json(answer.body)):
                    tally.bad(kind, f"status {answer.status}")
                continue
            _check(kind, answer.status, answer.body, tally)
    finally:
        await conn.close()


async def _probe(port: int) -> dict[str, int]:
    conn = Connection(port)
    try:
        raw = f"GET {PROBE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        answer = await conn.request(raw)
        result: dict[str, int] = json.loads(answer.body)
        return result
    finally:
        await conn.close()


def _sample(service: Service, done: int, probe: dict[str, int], upstream: int
            ) -> dict[str, Any]:
    fds = fd_breakdown(service.pid, upstream)
    return {"requests": done, "rss_mb": round(service.rss_mb(), 2), "open_fds": fds["all"],
            "upstream_connections": fds["upstream"], "other_fds": fds["other"],
            "threads": threads(service.pid), **probe}


async def _soak(service: Service, total: int, upstream: int, say: Callable[[str], None]
                ) -> dict[str, Any]:
    rng = random.Random(20260124)
    warm = Tally()
    await asyncio.gather(*(_client(service.port, max(1_000, min(5_000, total // 10)), warm,
                                   random.Random(rng.random())) for _ in range(CLIENTS)))
    await asyncio.sleep(1.0)
    baseline = _sample(service, 0, await _probe(service.port), upstream)
    say(f"soak: after warm-up: RSS {baseline['rss_mb']:.1f} MB, {baseline['other_fds']} fds "
        f"+ {baseline['upstream_connections']} pooled upstream connections, "
        f"{baseline['tasks']} tasks")
    tally = Tally()
    samples: list[dict[str, Any]] = []
    step = max(1, total // 20)

    async def sampler() -> None:
        mark = step
        while tally.done < total:
            await asyncio.sleep(0.25)
            if tally.done >= mark:
                samples.append(_sample(service, tally.done, await _probe(service.port),
                                       upstream))
                s = samples[-1]
                say(f"  {s['requests']:>8,} requests: RSS {s['rss_mb']:.1f} MB, "
                    f"{s['other_fds']} fds + {s['upstream_connections']} upstream, "
                    f"{s['tasks']} tasks, {len(tally.unexpected)} "
                    "unexpected")
                mark += step

    start = time.perf_counter()
    await asyncio.gather(sampler(), *(_client(service.port, total, tally,
                                              random.Random(rng.random()))
                                      for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - start
    await asyncio.sleep(1.0)
    idle = _sample(service, tally.done, await _probe(service.port), upstream)
    quarter = next((s for s in samples if s["requests"] >= total // 4), baseline)
    return {"requests": tally.done, "seconds": round(elapsed, 1),
            "requests_per_s": round(tally.done / elapsed), "mix": dict(tally.kinds),
            "surfaced_upstream_faults": dict(tally.surfaced),
            "surfaced_examples": tally.surfaced_examples,
            "unexpected": len(tally.unexpected), "unexpected_examples": tally.unexpected[:20],
            "after_warmup": baseline, "samples": samples, "idle_at_end": idle,
            "rss_growth_pct": (idle["rss_mb"] - quarter["rss_mb"]) / quarter["rss_mb"] * 100,
            "fd_growth": idle["other_fds"] - baseline["other_fds"],
            "max_upstream_connections": max([s["upstream_connections"] for s in samples]
                                            + [idle["upstream_connections"]]),
            "task_growth": idle["tasks"] - baseline["tasks"]}


async def _in_flight(port: int, work: Workload, stream: bool) -> str | None:
    conn = Connection(port)
    try:
        answer = await conn.request(build_request(work.path, work.body, work.key))
    except (OSError, asyncio.IncompleteReadError) as exc:
        return f"{work.name}: {type(exc).__name__}: {exc}"
    finally:
        await conn.close()
    if answer.status != 200:
        return f"{work.name}: status {answer.status}"
    if stream and not (answer.body.endswith(b"data: [DONE]\n\n")
                       and count_events(answer.body) == nginx.EVENTS):
        return f"{work.name}: cut short ({count_events(answer.body)} events)"
    return None


async def _shutdown(service: Service, say: Callable[[str], None]) -> dict[str, Any]:
    """SIGTERM with slow requests and streams in flight."""
    assert service.proc is not None
    flights = [asyncio.ensure_future(_in_flight(service.port, servers.SLOW_STREAM, True))
               for _ in range(8)]
    flights += [asyncio.ensure_future(_in_flight(service.port, servers.SLOW_CHAT, False))
                for _ in range(8)]
    await asyncio.sleep(0.7)
    sent = time.perf_counter()
    service.proc.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.3)
    try:
        socket.create_connection(("127.0.0.1", service.port), timeout=0.5).close()
        still_accepting = True
    except OSError:
        still_accepting = False
    problems = [p for p in await asyncio.gather(*flights) if p]
    finished = time.perf_counter() - sent
    loop = asyncio.get_running_loop()
    code = await loop.run_in_executor(None, service.proc.wait, GRACE_SECONDS + 10)
    exited = time.perf_counter() - sent
    say(f"shutdown: {len(flights)} in flight, {len(problems)} cut; still accepting after "
        f"0.3 s: {still_accepting}; exit {code} after {exited:.2f} s")
    return {"in_flight": len(flights), "cut": problems, "still_accepting": still_accepting,
            "in_flight_finished_s": round(finished, 2), "exit_code": code,
            "exit_after_s": round(exited, 2)}


def _log_problems(log: Path) -> list[str]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line for line in text.splitlines()
            if "Traceback" in line or "unexpected error" in line or "Task was destroyed" in line
            or "Unclosed" in line or "never retrieved" in line][:20]


def main(args: argparse.Namespace, found: Tools, workdir: Path,
         say: Callable[[str], None]) -> int:
    total = 3_000 if args.smoke else args.requests
    if not found.nginx:
        say("soak: needs nginx (its upstream faults and slow answers); install it or drop "
            "--no-install")
        return 2
    upstream = nginx.service(workdir / "nginx", free_port()).start()
    config = workdir / "proxy-soak.yaml"
    config.write_text(servers.proxy_config(f"http://127.0.0.1:{upstream.port}", faulty=True))
    port = free_port()
    service = Service("proxy (soak)", python("-m", "bench.soak_server", "--config", str(config),
                                             "--host", "127.0.0.1", "--port", str(port),
                                             "--log-level", "warning"),
                      port, cpu=SERVER_CPU, env={**servers.ENV, "PYTHONPATH": str(ROOT)},
                      cwd=workdir,
                      log=workdir / "proxy-soak.log")
    results: dict[str, Any] = {"requests_asked": total, "clients": CLIENTS, "mix": dict(MIX)}
    try:
        service.start()
        say(f"soak: {total:,} requests from {CLIENTS} clients, upstream faults on")
        results["soak"] = run_async(_soak(service, total, upstream.port, say))
        results["shutdown"] = run_async(_shutdown(service, say))
    finally:
        service.stop()
        upstream.stop()
    results["proxy_log_problems"] = _log_problems(workdir / "proxy-soak.log")
    soak, down = results["soak"], results["shutdown"]
    checks = {
        "zero unexpected errors": soak["unexpected"] == 0 and not results["proxy_log_problems"],
        "retries absorb upstream faults (≤ 1 % surfaced)":
            sum(soak["surfaced_upstream_faults"].values()) <= soak["requests"] / 100,
        "RSS growth ≤ 5 % (first quarter → end)": soak["rss_growth_pct"] <= 5.0,
        "no file-descriptor growth (upstream pool bounded by the clients)":
            soak["fd_growth"] <= 0 and soak["max_upstream_connections"] <= 2 * CLIENTS,
        "no task growth": soak["task_growth"] <= 0,
        "SIGTERM: stops accepting": not down["still_accepting"],
        "SIGTERM: in-flight requests and streams finish": not down["cut"],
        "SIGTERM: exits 0 within the grace period": down["exit_code"] == 0
        and down["exit_after_s"] <= GRACE_SECONDS + 1,
    }
    results["checks"] = checks
    out: Path = args.out or Path(__file__).parent / "results" / "soak.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    say(f"\nsoak: {soak['requests']:,} requests in {soak['seconds']} s "
        f"({soak['requests_per_s']:,}/s); surfaced upstream faults "
        f"{sum(soak['surfaced_upstream_faults'].values())}; unexpected {soak['unexpected']}; "
        f"RSS {soak['after_warmup']['rss_mb']:.1f} → {soak['idle_at_end']['rss_mb']:.1f} MB; "
        f"fds {soak['after_warmup']['other_fds']} → {soak['idle_at_end']['other_fds']} (+ "
        f"{soak['idle_at_end']['upstream_connections']} pooled upstream); "
        f"idle tasks {soak['after_warmup']['tasks']} → {soak['idle_at_end']['tasks']}")
    for example in soak["unexpected_examples"] + results["proxy_log_problems"]:
        say(f"  unexpected: {example}")
    for name, ok in checks.items():
        say(f"  {'pass' if ok else 'FAIL'}  {name}")
    say(f"wrote {out}")
    return 0 if all(checks.values()) or not args.strict else 1
