"""The bench's chart: every proxy configuration and yardstick the run measured, in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bench.chart import COLOURS, LABELS, _series, draw


def _cell(rps: float) -> dict[str, Any]:
    return {"1": {"rps": rps, "p50_ms": 0.3, "p99_ms": 0.7},
            "16": {"rps": rps * 3, "p50_ms": 1.5, "p99_ms": 4.0}}


def test_every_measured_series_is_drawn_in_a_fixed_order() -> None:
    results = {"chat": {name: _cell(1000.0 + n) for n, name in enumerate(
        ["ceiling", "reference", "proxy-keys-redis", "floor", "proxy-keys", "proxy"])},
        "litellm": {"chat": {"litellm": _cell(50.0)}}}
    assert list(_series(results)) == ["proxy", "proxy-keys", "proxy-keys-redis",
                                      "reference", "floor", "ceiling", "litellm"]
    assert set(COLOURS) == set(LABELS)
    assert list(_series({"chat": {"proxy": _cell(1.0), "unknown": _cell(2.0)}})) == ["proxy"]


def test_the_chart_is_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    results = {"chat": {"proxy": _cell(8000.0), "proxy-keys-redis": _cell(4000.0)},
               "meta": {"gatewise_version": "0", "cpu": "test", "tools": {}}}
    path = draw(results, tmp_path / "chart.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
