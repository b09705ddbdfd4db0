"""Reading ``/metrics`` the way Prometheus does: ``prometheus_client``'s own parser."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse(text: str) -> Samples:
    """Every sample by its name (``..._total``, ``..._count``, ``..._bucket``...)."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def scrape(url: str, key: str | None = None) -> Samples:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    answer = httpx.get(url.rstrip("/") + "/metrics", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
    return sum(v for found, v in samples.get(name, ())
               if all(found.get(k) == want for k, want in labels.items()))


def label_values(samples: Samples) -> set[tuple[str, str, str]]:
    """Every (sample name, label, value) present."""
    return {(name, k, v) for name, rows in samples.items() for found, _ in rows
            for k, v in found.items()}


def wait_for(url: str, test: Callable[[Samples], bool], key: str | None = None,
             timeout: float = 20.0) -> Samples:
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(url, key)
        if test(samples):
            return samples
        assert time.monotonic() < deadline, "the metrics never got there"
        time.sleep(0.05)


def usage_sum(answers: list[Mapping[str, Any]], field: str) -> int:
    return sum(int(a["usage"][field]) for a in answers)
