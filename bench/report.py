"""The targets (issue 19's), checked against one run's figures, and the table (Markdown,
printed and saved next to the JSON) of figures and ratios.  The table has a column for each
server measured: each proxy configuration (the master key only; a virtual key with the
spend ledger; the same on PostgreSQL; on aiohttp) with its ratio to the reference
forwarder, the reference, and the raw-asyncio ceiling (with the master-key proxy's share
of the ceiling's figure: how far from the limit it is) and, when measured, gatewise's own
floor (``bench/floor.py``: how far the proxy's layers are from its own per-request work)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

PROXIES = ("proxy", "proxy-keys", "proxy-keys-redis", "proxy-keys-pg", "proxy-aiohttp")
HEADINGS = {"proxy": "gatewise proxy, master key",
            "proxy-keys": "virtual key + ledger + Prometheus",
            "proxy-keys-redis": "… + Redis shared state",
            "proxy-keys-pg": "… on PostgreSQL",
            "proxy-aiohttp": "proxy on aiohttp"}


@dataclass
class Target:
    id: str
    description: str
    value: float | None
    limit: float
    higher_is_better: bool
    unit: str = ""

    @property
    def passed(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def targets(r: dict[str, Any]) -> list[Target]:
    g = _get
    p1, r1 = g(r, "chat", "proxy", "1", "p50_ms"), g(r, "chat", "reference", "1", "p50_ms")
    mem = g(r, "memory", "proxy", "checkpoints") or []
    ref16 = g(r, "chat", "reference", "16", "rps")
    out = [
        Target("chat_rps_c16", "proxy, master key only: requests/s, chat, 16 connections, one "
               "core (x reference)", _ratio(g(r, "chat", "proxy", "16", "rps"), ref16), 1.5,
               True, "x"),
        Target("chat_rps_c16_keys", "proxy, virtual key + spend ledger + Prometheus: "
               "requests/s, chat, 16 connections (x reference)",
               _ratio(g(r, "chat", "proxy-keys", "16", "rps"), ref16), 1.2, True, "x"),
    ]
    if g(r, "chat", "proxy-keys-redis") is not None:
        out.append(Target("chat_rps_c16_keys_redis", "the same with the state shared in "
                          "Redis: requests/s, chat, 16 connections (x reference)",
                          _ratio(g(r, "chat", "proxy-keys-redis", "16", "rps"), ref16), 1.0,
                          True, "x"))
    if g(r, "chat", "proxy-keys-pg") is not None:
        out.append(Target("chat_rps_c16_keys_pg", "proxy, virtual key + spend ledger on "
                          "PostgreSQL: requests/s, chat, 16 connections (x reference)",
                          _ratio(g(r, "chat", "proxy-keys-pg", "16", "rps"), ref16), 1.2,
                          True, "x"))
    out += [
        Target("chat_p50_c1", "proxy p50 at 1 connection (ms over reference p50)",
               None if p1 is None or r1 is None else p1 - r1, 0.0, False, "ms"),
        Target("paced_events", "paced streams: events relayed per CPU-second (x reference)",
               _ratio(g(r, "paced_stream", "proxy", "64", "events_per_cpu_s"),
                      g(r, "paced_stream", "reference", "64", "events_per_cpu_s")),
               1.0, True, "x"),
        Target("rss_first", f"proxy RSS after {mem[0]['requests']:,} requests (MB)"
               if mem else "proxy RSS after 50k requests (MB)",
               mem[0]["rss_mb"] if mem else None, 80.0, False, "MB"),
        Target("rss_growth", "proxy RSS growth between the memory checkpoints (%)",
               g(r, "memory", "proxy", "growth_pct"), 5.0, False, "%"),
        Target("cold_start", "`gatewise --config` start until ready (ms)",
               g(r, "startup", "proxy", "median_ms"), 1000.0, False, "ms"),
        Target("import", "`import gatewise` (x `import httpx, pydantic`)",
               g(r, "sdk", "import_gatewise_ratio"), 1.25, False, "x"),
        Target("completion_sync", "`completion()` per call (x plain `httpx.Client` POST)",
               g(r, "sdk", "sync_ratio"), 1.25, False, "x"),
        Target("completion_async", "`acompletion` per call (x plain `httpx.AsyncClient` "
               "POST)", g(r, "sdk", "async_ratio"), 1.25, False, "x"),
        Target("workers", "`--workers 2` on 2 cores (x 1 worker), chat, 64 connections",
               g(r, "workers", "proxy", "ratio"), 1.6, True, "x"),
        Target("errors", "unexpected errors in all proxy runs",
               float(sum(_errors(r, name) for name in PROXIES)), 0.0, False),
        Target("shared_state", "proxy with its state in Redis (x in process), chat with a "
               "limited key, 16 connections", g(r, "shared_state", "ratio"), 0.8, True, "x"),
        Target("round_trips", "round trips to Redis per chat request",
               g(r, "shared_state", "round_trips_per_request"), 2.1, False),
        Target("prometheus_cpu", "server CPU per chat request with Prometheus (x without)",
               g(r, "observability", "prometheus_cpu_ratio"), 1.10, False, "x"),
        Target("otel_cpu", "server CPU per chat request with OTel exporting (x without)",
               g(r, "observability", "otel_cpu_ratio"), 1.30, False, "x"),
    ]
    return out


def _errors(r: dict[str, Any], name: str) -> int:
    total = 0
    for scenario in ("chat", "stream", "paced_stream", "embeddings"):
        for cell in (_get(r, scenario, name) or {}).values():
            total += sum(run["errors"] for run in cell.get("runs", [cell]))
    total += _get(r, "memory", name, "errors") or 0
    return int(total)


# ----------------------------------------------------------------------------- the table

def _n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _mark(target: Target | None) -> str:
    if target is None or target.passed is None:
        return ""
    return "pass" if target.passed else "**FAIL**"


def _versus(unit: str) -> Callable[[Any, Any], str]:
    """How a proxy's figure compares with the reference's: a ratio, or (``ms``) a
    difference of p50s."""
    def compare(mine: Any, theirs: Any) -> str:
        if unit == "ms":
            if not mine or not theirs or "p50_ms" not in mine or "p50_ms" not in theirs:
                return "-"
            return f"{mine['p50_ms'] - theirs['p50_ms']:+.2f} ms"
        if unit == "ratio" and isinstance(mine, int | float) and isinstance(theirs,
                                                                           int | float):
            return _n(_ratio(mine, theirs), 2)
        return ""
    return compare


def table(r: dict[str, Any]) -> str:
    checks = {t.id: t for t in targets(r)}
    has_litellm = "litellm" in r and "chat" in r["litellm"]
    measured = {name for scenario in ("chat", "stream", "paced_stream", "embeddings")
                for name in r.get(scenario) or {}}
    proxies = [name for name in PROXIES if name in measured] or ["proxy"]
    # The limits measured beside them: the raw-asyncio ceiling, gatewise's own floor.
    limits = [(n, title) for n, title in (("ceiling", "raw-asyncio ceiling"),
                                          ("floor", "gatewise floor")) if n in measured]
    head, rule = "| figure |", "|---|"
    for name in proxies:
        head += f" {HEADINGS[name]} | ÷ reference |"
        rule += "---:|---:|"
    head += " reference |"
    rule += "---:|"
    for name, title in limits:
        head += f" {title} | proxy ÷ {name} |"
        rule += "---:|---:|"
    if has_litellm:
        head += " LiteLLM proxy |"
        rule += "---:|"
    head += " target | |"
    rule += "---|---|"
    rows = [head, rule]

    def row(label: str, get: Callable[[str], Any], fmt: Callable[[Any], str],
            compare: str = "", target: str = "", checked: tuple[str, ...] = ()) -> None:
        """``compare``: ``ratio`` (each proxy ÷ the reference, and the master-key proxy ÷
        the ceiling and the floor), ``ms`` (p50 differences) or nothing."""
        versus = _versus(compare)
        cells = [label]
        for name in proxies:
            cells += [fmt(get(name)), versus(get(name), get("reference"))]
        cells.append(fmt(get("reference")))
        for name, _ in limits:
            cells += [fmt(get(name)),
                      versus(get("proxy"), get(name)) if compare == "ratio" else ""]
        if has_litellm:
            cells.append(fmt(get("litellm")))
        marks = [_mark(checks.get(c)) for c in checked]
        cells += [target, " / ".join(m for m in marks if m)]
        rows.append("| " + " | ".join(cells) + " |")

    def src(name: str) -> dict[str, Any]:
        return dict(r.get("litellm", {})) if name == "litellm" else r

    counts = sorted({c for cells in (r.get("chat") or {}).values() for c in cells}, key=int)
    for c in counts or ("1", "16", "64"):
        def cell(name: str, c: str = c) -> Any:
            return _get(src(name), "chat", name, c)

        sixteen = c == "16"
        row(f"chat, {c} conn: requests/s", lambda n, cell=cell: (cell(n) or {}).get("rps"),
            _n, "ratio", "master key ≥ 1.5 x, virtual key + ledger ≥ 1.2 x reference"
            if sixteen else "",
            ("chat_rps_c16", "chat_rps_c16_keys", "chat_rps_c16_keys_pg") if sixteen else ())
        row(f"chat, {c} conn: p50 / p99 ms", lambda n, cell=cell: cell(n),
            lambda v: "-" if not v else f"{v['p50_ms']:.2f} / {v['p99_ms']:.2f}", "ms",
            "p50 ≤ reference p50" if c == "1" else "", ("chat_p50_c1",) if c == "1" else ())
        row(f"chat, {c} conn: server CPU µs/request",
            lambda n, cell=cell: (cell(n) or {}).get("cpu_us_per_request"), _n, "ratio")

    def stream(name: str) -> dict[str, Any]:
        return _get(src(name), "stream", name, "16") or {}

    if "stream" in r:
        row("stream (burst), 16 conn: events relayed/s",
            lambda n: stream(n).get("events_per_s"), _n, "ratio")
        row("stream, 1 conn: first event p50 / p99 ms", stream,
            lambda v: "-" if not v or "ttfb_p50_ms" not in v else
            f"{v['ttfb_p50_ms']:.2f} / {v['ttfb_p99_ms']:.2f}", "")

    def paced(name: str) -> dict[str, Any]:
        return _get(src(name), "paced_stream", name, "64") or {}

    if paced("proxy"):
        row("paced stream (~160 reads each), 64 conn: server CPU µs/stream",
            lambda n: paced(n).get("cpu_us_per_request"), _n, "ratio")
        row("… events relayed per CPU-second", lambda n: paced(n).get("events_per_cpu_s"), _n,
            "ratio", "≥ 1.0 x reference", ("paced_events",))

    def embed(name: str) -> dict[str, Any]:
        return _get(src(name), "embeddings", name, "16") or {}

    if "embeddings" in r:  # (a run of some scenarios only leaves the others' rows out)
        row("embeddings, 16 conn: requests/s", lambda n: embed(n).get("rps"), _n, "ratio")
        row("embeddings, 16 conn: p50 / p99 ms", embed, lambda v: "-" if not v else
            f"{v['p50_ms']:.2f} / {v['p99_ms']:.2f}")

    def mem(name: str) -> dict[str, Any]:
        return _get(src(name), "memory", name) or {}

    marks = mem("proxy").get("checkpoints") or []
    for i, point in enumerate(marks):
        row(f"RSS after {point['requests']:,} requests, MB",
            lambda n, i=i: _checkpoint(mem(n), i), lambda v: _n(v, 1), "",
            "≤ 80 MB" if i == 0 else "", ("rss_first",) if i == 0 else ())
    if "memory" in r:
        row("RSS growth between checkpoints, %", lambda n: mem(n).get("growth_pct"),
            lambda v: _n(v, 1), "", "≤ 5 %", ("rss_growth",))
    row("peak RSS, MB", lambda n: _peak(src(n), n), lambda v: _n(v, 1))
    if "startup" in r:
        row("cold start until ready, ms", lambda n: _get(src(n), "startup", n, "median_ms"),
            _n, "", "≤ 1,000 ms", ("cold_start",))
    w = r.get("workers", {})
    if "workers" in r:
        row("`--workers 2` ÷ 1 worker, requests/s, 64 conn",
            lambda n: _get(src(n), "workers", n, "ratio"), lambda v: _n(v, 2), "",
            "≥ 1.6", ("workers",))
    if w:
        row("… requests/s with 1 / 2 workers",
            lambda n: _get(src(n), "workers", n),
            lambda v: "-" if not v or "1" not in v else
            f"{v['1']['rps']:,.0f} / {v['2']['rps']:,.0f}")
    row("unexpected errors (all runs)", lambda n: _errors(src(n), n), _n, "", "0", ("errors",))
    rows.append("")
    rows.append(shared_table(r.get("shared_state") or {}, checks))
    rows.append("")
    rows.append(observability_table(r.get("observability") or {}, checks))
    rows.append("")
    rows.append(sdk_table(r.get("sdk") or {}, checks))
    return "\n".join(rows)


def shared_table(s: dict[str, Any], checks: dict[str, Target]) -> str:
    """The proxy with its live state in Redis against in process (``bench/shared.py``)."""
    if not s or "ratio" not in s:
        return f"(shared state: {s.get('skipped', 'not measured')})" if s else ""
    local, shared = s["in_process"]["16"], s["redis"]["16"]
    return "\n".join([
        "| shared state, chat with a limited key, 16 conn | in process | Redis | ratio | "
        "target | |",
        "|---|---:|---:|---:|---|---|",
        f"| requests/s | {_n(local['rps'])} | {_n(shared['rps'])} | {_n(s['ratio'], 2)} | "
        f"≥ 0.8 | {_mark(checks.get('shared_state'))} |",
        f"| p50 / p99 ms | {local['p50_ms']:.2f} / {local['p99_ms']:.2f} | "
        f"{shared['p50_ms']:.2f} / {shared['p99_ms']:.2f} | | | |",
        f"| server CPU µs/request | {_n(local['cpu_us_per_request'])} | "
        f"{_n(shared['cpu_us_per_request'])} | {_n(s.get('cpu_ratio'), 2)} (per CPU-s) | | |",
        f"| round trips to Redis per request | | {_n(s['round_trips_per_request'], 2)} | | "
        f"≤ 2 (+ the requests still in flight when counting stops) | "
        f"{_mark(checks.get('round_trips'))} |"])


def observability_table(o: dict[str, Any], checks: dict[str, Target]) -> str:
    """Metrics and traces against neither (``bench/observability.py``)."""
    if not o or "otel_cpu_ratio" not in o:
        return ""
    cells = {name: o[name]["16"] for name in ("off", "prometheus", "otel")}

    def pct(ratio: float | None) -> str:
        return "-" if ratio is None else f"{(ratio - 1) * 100:+.1f} %"

    return "\n".join([
        "| observability, chat, 16 conn | off | Prometheus | OTel (exporting) | target | |",
        "|---|---:|---:|---:|---|---|",
        f"| requests/s | {_n(cells['off']['rps'])} | {_n(cells['prometheus']['rps'])} | "
        f"{_n(cells['otel']['rps'])} | | |",
        f"| server CPU µs/request | {_n(cells['off']['cpu_us_per_request'])} | "
        f"{_n(cells['prometheus']['cpu_us_per_request'])} | "
        f"{_n(cells['otel']['cpu_us_per_request'])} | | |",
        f"| … more than off | | {pct(o['prometheus_cpu_ratio'])} | "
        f"{pct(o['otel_cpu_ratio'])} | ≤ +10 % / ≤ +30 % | "
        f"{_mark(checks.get('prometheus_cpu'))} / {_mark(checks.get('otel_cpu'))} |",
        f"| spans received / `/metrics` scrapes (slowest) | | {o['scrapes']} "
        f"({o['scrape_ms_max']} ms) | {o['spans_received']:,} | | |"])


def _checkpoint(memory: dict[str, Any], index: int) -> float | None:
    points = memory.get("checkpoints") or []
    return points[index]["rss_mb"] if index < len(points) else None


def _peak(r: dict[str, Any], name: str) -> float | None:
    values = [_get(r, "memory", name, "peak_rss_mb"),
              _get(r, "peak_rss_mb_throughput", name)]
    found = [v for v in values if v]
    return max(found) if found else None


def sdk_table(s: dict[str, Any], checks: dict[str, Target]) -> str:
    if not s:
        return ""
    rows = ["| SDK figure | gatewise | baseline | ratio | target | |",
            "|---|---:|---:|---:|---|---|",
            f"| `import gatewise` vs `import httpx, pydantic`, ms | "
            f"{s['import_gatewise_ms']:.0f} | {s['import_httpx_pydantic_ms']:.0f} | "
            f"{s['import_gatewise_ratio']:.2f} | ≤ 1.25 | {_mark(checks.get('import'))} |",
            f"| `completion()` vs `httpx.Client` POST, µs/call | {s['sync_completion_us']:.0f} "
            f"| {s['sync_plain_httpx_us']:.0f} | {s['sync_ratio']:.2f} | ≤ 1.25 | "
            f"{_mark(checks.get('completion_sync'))} |",
            f"| `AsyncClient.completion()` vs `httpx.AsyncClient` POST, µs/call | "
            f"{s['async_completion_us']:.0f} | {s['async_plain_httpx_us']:.0f} | "
            f"{s['async_ratio']:.2f} | ≤ 1.25 | {_mark(checks.get('completion_async'))} |",
            f"| (Python start-up alone, ms) | {s['python_startup_ms']:.0f} | | | | |"]
    return "\n".join(rows)


def summary(r: dict[str, Any]) -> str:
    checks = targets(r)
    failed = [t for t in checks if t.passed is False]
    missing = [t for t in checks if t.passed is None]
    lines = [f"targets: {sum(1 for t in checks if t.passed)} of {len(checks)} met"]
    lines += [f"  FAIL {t.description}: {_n(t.value, 2)} (limit {_n(t.limit, 2)})"
              for t in failed]
    lines += [f"  not measured: {t.description}" for t in missing]
    return "\n".join(lines)
