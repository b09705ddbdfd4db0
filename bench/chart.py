"""The chart: requests/s and latency (p50, p99) per concurrency, the proxy's configurations
(master key; virtual key + ledger, on SQLite, with Redis, on PostgreSQL) against the
reference, gatewise's floor and the raw-asyncio ceiling (and LiteLLM's proxy when it was
measured), non-streaming chat, each series that the run measured.  matplotlib, Agg."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLOURS = {"proxy": "#1f77b4", "proxy-keys": "#9467bd", "proxy-keys-redis": "#8c564b",
           "proxy-keys-pg": "#c5b0d5", "proxy-aiohttp": "#aec7e8", "reference": "#7f7f7f",
           "floor": "#bcbd22", "ceiling": "#2ca02c", "litellm": "#d62728"}
LABELS = {"proxy": "gatewise proxy (master key)",
          "proxy-keys": "gatewise proxy (virtual key + ledger)",
          "proxy-keys-redis": "gatewise proxy (virtual key + ledger, Redis)",
          "proxy-keys-pg": "gatewise proxy (virtual key + ledger, PostgreSQL)",
          "proxy-aiohttp": "gatewise proxy on aiohttp",
          "reference": "reference forwarder", "floor": "gatewise floor",
          "ceiling": "raw-asyncio ceiling",
          "litellm": "LiteLLM proxy"}


def _series(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    series = {name: results["chat"][name]
              for name in COLOURS if name != "litellm"
              if name in results.get("chat", {})}
    litellm = results.get("litellm", {}).get("chat", {}).get("litellm")
    if litellm:
        series["litellm"] = litellm
    return series


def draw(results: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = _series(results)
    concurrency = sorted({int(c) for cells in series.values() for c in cells}, key=int)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / max(1, len(series))
    for i, (name, cells) in enumerate(series.items()):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(concurrency))]
        rps = [cells.get(str(c), {}).get("rps", 0) for c in concurrency]
        bars = left.bar(xs, rps, width, label=LABELS[name], color=COLOURS[name])
        left.bar_label(bars, labels=[f"{v:,.0f}" for v in rps], fontsize=7, padding=2)
        p50 = [cells.get(str(c), {}).get("p50_ms") for c in concurrency]
        p99 = [cells.get(str(c), {}).get("p99_ms") for c in concurrency]
        right.plot(concurrency, p50, marker="o", color=COLOURS[name],
                   label=f"{LABELS[name]} p50")
        right.plot(concurrency, p99, marker="^", linestyle="--", color=COLOURS[name],
                   label=f"{LABELS[name]} p99")
    left.set_xticks(range(len(concurrency)), [str(c) for c in concurrency])
    left.set_xlabel("concurrent connections")
    left.set_ylabel("requests/s (one core)")
    left.set_title("Non-streaming chat: throughput")
    left.legend(fontsize=8)
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xticks(concurrency, [str(c) for c in concurrency])
    right.set_xlabel("concurrent connections")
    right.set_ylabel("latency, ms (log)")
    right.set_title("Non-streaming chat: latency")
    right.legend(fontsize=7)
    meta = results.get("meta", {})
    fig.suptitle(f"gatewise {meta.get('gatewise_version', '')} — {meta.get('cpu', '')}, "
                 f"server on 1 pinned core; upstream {meta.get('tools', {}).get('upstream', '')}"
                 f", load {meta.get('tools', {}).get('load', '')}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
