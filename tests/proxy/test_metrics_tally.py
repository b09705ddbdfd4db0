"""The Prometheus sink counts in plain numbers and flushes them into prometheus_client's
metrics: what a scrape shows after a flush is exactly what observing each value and
incrementing each counter one by one would have shown."""

from __future__ import annotations

import asyncio
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from gatewise.record import RequestRecord
from gatewise.router.deployments import Deployment
from gatewise.telemetry.prometheus import tally
from gatewise.telemetry.prometheus.metrics import DURATION_BUCKETS, OVERHEAD_BUCKETS, Metrics
from gatewise.telemetry.prometheus.sink import PrometheusSink
from tests.proxy._metrics import parse, value

_CREATED = re.compile(rb"^\S+_created(\{[^}]*\})? \S+\n", re.MULTILINE)


def _exposition(registry: CollectorRegistry) -> bytes:
    """The text a scrape gets, less the creation times (made at different instants)."""
    return _CREATED.sub(b"", generate_latest(registry))


def _same(tallied: CollectorRegistry, observed: CollectorRegistry) -> None:
    """The same samples with the same values: counts exactly, sums of fractions (seconds,
    dollars) but for the rounding of adding them in another order."""
    got, want = (parse(_exposition(r).decode()) for r in (tallied, observed))
    assert got.keys() == want.keys()
    for name, rows in want.items():
        assert [labels for labels, _ in got[name]] == [labels for labels, _ in rows], name
        for (_, a), (_, b) in zip(got[name], rows, strict=True):
            if name.endswith(("_count", "_bucket")) or float(b).is_integer():
                assert a == b, name
            else:
                assert a == pytest.approx(b, rel=1e-9, abs=1e-12), name


def _histogram(registry: CollectorRegistry, bounds: tuple[float, ...]) -> Histogram:
    return Histogram("seconds", "a histogram", ("route",), buckets=bounds, registry=registry)


# Values on the bounds themselves, between them, past the last one, zero and below.
_VALUES = st.one_of(st.sampled_from([*DURATION_BUCKETS, *OVERHEAD_BUCKETS, 0.0, -1.0, 1e9]),
                    st.floats(min_value=-1.0, max_value=1e4, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(values=st.lists(_VALUES, max_size=40), flush_every=st.integers(1, 10),
       bounds=st.sampled_from([DURATION_BUCKETS, OVERHEAD_BUCKETS]))
def test_a_flushed_histogram_shows_what_observe_would(values: list[float], flush_every: int,
                                                     bounds: tuple[float, ...]) -> None:
    observed, tallied = CollectorRegistry(), CollectorRegistry()
    direct = _histogram(observed, bounds).labels("chat")
    counts = tally.Histogram(_histogram(tallied, bounds).labels("chat"))
    for at, v in enumerate(values, 1):
        direct.observe(v)
        counts.observe(v)
        if at % flush_every == 0:
            counts.flush()
    counts.flush()
    counts.flush()  # (nothing new: adds nothing)
    _same(tallied, observed)


def _deployment(id: str) -> Deployment:
    return Deployment(id, "small", "mistral/m", {})


def _record(n: int) -> RequestRecord:
    """Requests of every shape the sink tells apart: served, failed, streamed, retried,
    with and without tokens, reasoning and cost, an unknown group, keys and teams."""
    record = RequestRecord(f"call-{n}", ("chat", "embeddings")[n % 2], 0.0)
    record.model_group = ("small", "unknown-group", None)[n % 3]
    record.status = (200, 200, 429, 500, 499)[n % 5]
    record.error_type = {429: "rate_limit_error", 500: "internal_error",
                         499: "client_disconnected"}.get(record.status)
    record.latency = 0.0003 * n
    if n % 4:
        record.upstream_latency = 0.0002 * n
        record.overhead = 0.0001 * n if n % 8 else None
    record.ttft = 0.001 * n if n % 3 == 0 else None
    record.retries, record.fallbacks = n % 3, n % 2
    record.prompt_tokens, record.completion_tokens = n % 7, n % 5
    record.reasoning_tokens = n % 2
    record.cost = 0.0001 * (n % 4)
    record.key_alias = ("ci", None)[n % 2]
    record.team_id, record.team_alias = ("t1", "blue") if n % 3 else (None, None)
    return record


def _fed(sink: PrometheusSink, records: int, flush_every: int | None) -> None:
    a, b = _deployment("small-a"), _deployment("small-b")
    for n in range(records):
        record = _record(n)
        sink.start(record, ())
        sink.attempt_started((a, b)[n % 2], "m", False).ended(
            None if n % 3 else TimeoutError(), None)
        if n % 10 == 9:
            sink.cooled_down(a, 5.0)
        sink.emit(record)
        if flush_every is not None and n % flush_every == 0:
            sink.flush()
    sink.start(_record(records), ())  # one still in flight


def test_the_sink_shows_after_a_flush_what_it_was_told() -> None:
    """Flushed at every record (what the metrics were before counting in plain numbers),
    now and then, or only at the end: the same exposition."""
    registries = []
    for flush_every in (1, 7, None):
        metrics = Metrics()
        sink = PrometheusSink(metrics, ["small"])
        _fed(sink, 200, flush_every)
        sink.flush()
        registries.append(metrics.registry)
    _same(registries[1], registries[0])
    _same(registries[2], registries[0])
    text = _exposition(registries[0]).decode()
    assert 'gatewise_in_flight_requests{route="chat"} 1.0' in text
    assert 'gatewise_requests_total{model_group="",route="chat",status_class="2xx"}' in text
    assert "gatewise_deployment_attempts_total" in text


def _requests(metrics: Metrics) -> float:
    return value(parse(_exposition(metrics.registry).decode()), "gatewise_requests_total")


def test_nothing_shows_before_a_flush_and_a_close_flushes() -> None:
    metrics = Metrics()
    sink = PrometheusSink(metrics, ["small"])
    _fed(sink, 10, None)
    assert _requests(metrics) == 0
    asyncio.run(sink.aclose())
    assert _requests(metrics) == 10


async def test_with_several_workers_a_sink_flushes_by_itself_soon_after() -> None:
    metrics = Metrics()
    sink = PrometheusSink(metrics, ["small"], flush_after=0.05)
    record = _record(0)
    sink.start(record, ())
    sink.emit(record)
    assert _requests(metrics) == 0
    for _ in range(200):
        await asyncio.sleep(0.01)
        if _requests(metrics):
            break
    assert _requests(metrics) == 1
    sink.emit(_record(5))  # a flush is due again, once
    sink.flush()  # (and flushing now cancels it)
    assert sink._flush_due is None
