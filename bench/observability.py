"""The observability scenario: what metrics and traces cost the proxy, in server CPU per
chat request (16 connections, the bench's config and key), against the same proxy without:

* ``prometheus``: ``litellm_settings.callbacks: ["prometheus"]``, ``/metrics`` scraped
  once a second while the load runs, as a Prometheus would (more often than its default);
* ``otel``: ``callbacks: ["otel"]`` exporting every span (a request's and its attempt's)
  over OTLP/HTTP to a local receiver (``bench/otlp_receiver.py``, on the load core, its
  CPU the benchmark's own); the spans it received are counted, so a run that dropped
  spans says so.

Targets (issue 17): Prometheus at most +10 %, OTel at most +30 % server CPU a request.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from bench import servers
from bench.procs import LOAD_CPU, Service, free_port, python

if TYPE_CHECKING:
    from bench.perf import Bench

CONNECTIONS = 16
SETUPS = {"off": "", "prometheus": '  callbacks: ["prometheus"]\n',
          "otel": '  callbacks: ["otel"]\n'}


def config(upstream: str, callbacks: str) -> str:
    return servers.proxy_config(upstream).replace("settings:\n  drop_params: true\n",
                                                  "settings:\n  drop_params: true\n"
                                                  + callbacks)


def _get(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
        body: bytes = answer.read()
        return body


@contextmanager
def _scraping(port: int) -> Iterator[list[float]]:
    """Scrape ``/metrics`` every second meanwhile; yields the scrapes' durations."""
    took: list[float] = []
    done = threading.Event()

    def scrape() -> None:
        while not done.wait(1.0):
            start = time.perf_counter()
            _get(port, "/metrics")
            took.append(time.perf_counter() - start)

    thread = threading.Thread(target=scrape, daemon=True)
    thread.start()
    try:
        yield took
    finally:
        done.set()
        thread.join(15)


def measure(bench: Bench) -> dict[str, Any]:
    workdir = bench.workdir / "observability"
    workdir.mkdir(exist_ok=True)
    receiver_port = free_port()
    receiver = Service("otlp receiver", python("-m", "bench.otlp_receiver", "--port",
                                               str(receiver_port)),
                       receiver_port, ready_path="/", cpu=LOAD_CPU,
                       log=workdir / "receiver.log").start()
    bench.helpers.append(receiver)
    running: dict[str, Service] = {}
    env = {**servers.ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver_port}",
           "OTEL_SERVICE_NAME": "gatewise-bench", "OTEL_BSP_SCHEDULE_DELAY": "1000"}
    try:
        for name, callbacks in SETUPS.items():
            path = workdir / f"proxy-{name}.yaml"
            path.write_text(config(bench.upstream_url, callbacks))
            listen = free_port()
            running[name] = Service(f"proxy ({name})", servers.gatewise_command(path, listen),
                                    listen, env=env, cwd=workdir,
                                    log=workdir / f"proxy-{name}.log").start()
        bench.say(f"observability (chat, c={CONNECTIONS}): off, Prometheus, OTel:")
        with _scraping(running["prometheus"].port) as scrapes:
            cells = bench.cells(running, servers.CHAT, (CONNECTIONS,))
        time.sleep(2.0)  # the batcher's last export (every second, here)
        received = json.loads(_get(receiver_port, "/count"))
    finally:
        for service in running.values():
            service.stop()
        receiver.stop()
        bench.helpers.remove(receiver)
    key = str(CONNECTIONS)
    cpu = {name: cells[name][key]["cpu_us_per_request"] for name in SETUPS}
    out: dict[str, Any] = {name: cells[name] for name in SETUPS}
    out["prometheus_cpu_ratio"] = cpu["prometheus"] / cpu["off"] if cpu["off"] else None
    out["otel_cpu_ratio"] = cpu["otel"] / cpu["off"] if cpu["off"] else None
    out["scrapes"] = len(scrapes)
    out["scrape_ms_max"] = round(max(scrapes, default=0.0) * 1000, 2)
    # Every request run against the OTel proxy, warm-up included, makes two spans.
    sent = sum(r["requests"] for r in cells["otel"][key]["runs"])
    out["spans_received"] = received["spans"]
    out["otel_requests_measured"] = sent
    bench.say(f"  server CPU µs/request: off {cpu['off']:.0f}, Prometheus "
              f"{cpu['prometheus']:.0f} ({_pct(out['prometheus_cpu_ratio'])}), OTel "
              f"{cpu['otel']:.0f} ({_pct(out['otel_cpu_ratio'])}); {received['spans']:,} "
              f"spans received; {len(scrapes)} scrapes, the slowest "
              f"{out['scrape_ms_max']} ms")
    return out


def _pct(ratio: float | None) -> str:
    return "?" if ratio is None else f"{(ratio - 1) * 100:+.1f} %"
