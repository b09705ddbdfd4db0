"""The benchmark cannot rot: a smoke run (every scenario for a moment, no thresholds) must
finish and write its JSON.  Uses nginx and wrk when installed, the pure-Python fallbacks
otherwise; never installs anything."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the benchmark needs Linux (taskset, /proc)")


def test_smoke_run_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--no-install",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    results = json.loads(out.read_text())
    assert {"meta", "chat", "stream", "embeddings", "memory", "startup", "sdk",
            "targets"} <= set(results)
    assert results["meta"]["smoke"] is True
    assert results["meta"]["tools"]["upstream"] and results["meta"]["tools"]["load"]
    for server in ("proxy", "reference"):
        assert set(results["chat"][server]) == {"1", "16", "64"}
        assert results["chat"][server]["16"]["requests"] > 0
        assert results["stream"][server]["16"]["events_per_stream"] > 0
        assert results["embeddings"][server]["16"]["requests"] > 0
        if results["meta"]["tools"]["upstream"].startswith("nginx"):
            paced = results["paced_stream"][server]["64"]
            assert paced["requests"] > 0 and paced["errors"] == 0
            assert paced["events_per_cpu_s"] > 0
        assert results["memory"][server]["checkpoints"]
        assert results["startup"][server]["median_ms"] > 0
    assert results["startup"]["bytecode_compiled"] is True  # started as pip would leave it
    ceiling = {scenario: results[scenario]["ceiling"] for scenario in ("chat", "stream",
                                                                      "embeddings")}
    assert ceiling["chat"]["16"]["requests"] > 0 and ceiling["chat"]["16"]["errors"] == 0
    assert ceiling["stream"]["16"]["events_per_stream"] > 0
    assert ceiling["embeddings"]["16"]["requests"] > 0
    keyed = results["chat"]["proxy-keys"]["16"]  # a virtual key made at start, the ledger on
    assert keyed["requests"] > 0 and keyed["errors"] == 0
    if shutil.which("redis-server"):  # the same with the state shared in Redis
        keyed = results["chat"]["proxy-keys-redis"]["16"]
        assert keyed["requests"] > 0 and keyed["errors"] == 0
    assert "import_gatewise_ms" in results["sdk"]
    shared = results["shared_state"]
    if "skipped" not in shared:  # needs redis-server
        assert shared["redis"]["16"]["requests"] > 0 and shared["redis"]["16"]["errors"] == 0
        assert 2 <= shared["round_trips_per_request"] < 3
    observed = results["observability"]
    for setup in ("off", "prometheus", "otel"):
        assert observed[setup]["16"]["requests"] > 0 and observed[setup]["16"]["errors"] == 0
    assert observed["spans_received"] > 0 and observed["prometheus_cpu_ratio"] > 0
    assert {t["id"] for t in results["targets"]} >= {"chat_rps_c16", "chat_rps_c16_keys",
                                                     "chat_p50_c1", "paced_events",
                                                     "cold_start"}
    assert out.with_suffix(".md").exists()
