"""``PrometheusSink``: each request's record -> counters and histograms.

A request costs a few dict lookups and additions to plain numbers (:mod:`.tally`), moved
into prometheus_client's metrics by :meth:`PrometheusSink.flush` when they are read; the
label children of each combination seen are made once and kept.  Label values are bounded
here again, whatever a record says: a model group the proxy does not serve counts as
``""``, and past :data:`MAX_ERROR_TYPES` distinct error types new ones count as
``other``.

It is also the router's attempt observer (``gatewise.router.observe``): each call to a
deployment and its outcome, each cooldown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from gatewise.record import RequestRecord
from gatewise.router.deployments import Deployment
from gatewise.telemetry.prometheus import tally
from gatewise.telemetry.prometheus.metrics import Metrics

__all__ = ["MAX_ERROR_TYPES", "PrometheusSink"]

MAX_ERROR_TYPES = 64
_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class _Request(NamedTuple):
    """What one (model group, route, status, error type) counts between two flushes."""

    requests: tally.Counter
    failure: tally.Counter | None  # None for a success
    latency: tally.Histogram
    upstream: tally.Histogram
    overhead: tally.Histogram
    ttft: tally.Histogram
    retries: tally.Counter
    fallbacks: tally.Counter


class _Spend(NamedTuple):
    input: tally.Counter
    output: tally.Counter
    reasoning: tally.Counter
    spend: tally.Counter


class _DeploymentWatch:
    """The attempt watch of one deployment (one made per deployment, reused): its calls by
    outcome, counted until the next flush."""

    __slots__ = ("_counts", "_labels", "_metrics", "headers")

    def __init__(self, metrics: Metrics, deployment: Deployment) -> None:
        self._metrics = metrics
        self._labels = (deployment.model_name, deployment.id)
        self._counts: dict[str, tally.Counter] = {}
        self.headers: tuple[tuple[str, str], ...] = ()

    def ended(self, error: BaseException | None, usage: Any) -> None:
        outcome = "success" if error is None else type(error).__name__
        count = self._counts.get(outcome)
        if count is None:
            count = self._counts[outcome] = tally.Counter(
                self._metrics.attempts.labels(*self._labels, outcome))
        count.value += 1

    def flush(self) -> None:
        for count in self._counts.values():
            count.flush()


class PrometheusSink:
    """The request records and the router's attempts, counted (see :mod:`.tally`) and
    flushed into :class:`Metrics` by :meth:`flush` when the metrics are read."""

    wants_details = False

    def __init__(self, metrics: Metrics, served: Collection[str], *,
                 flush_after: float | None = None) -> None:
        self.metrics = metrics
        self._served = frozenset(served)
        # With several workers, a scrape is answered by any of them, from what each has
        # flushed: a worker flushes at most ``flush_after`` seconds after it counts.
        self._flush_after = flush_after
        self._flush_due: asyncio.TimerHandle | None = None
        self._requests: dict[tuple[Any, ...], _Request] = {}
        self._spend: dict[tuple[Any, ...], _Spend] = {}
        self._in_flight: dict[str, int] = {}  # route -> requests started, not yet emitted
        self._error_types: set[str] = set()
        self._watches: dict[str, _DeploymentWatch] = {}

    # -- the sink -----------------------------------------------------------------------------

    def start(self, record: RequestRecord, headers: Sequence[tuple[bytes, bytes]]) -> None:
        in_flight = self._in_flight
        in_flight[record.route] = in_flight.get(record.route, 0) + 1

    def emit(self, record: RequestRecord) -> None:
        if self._flush_after is not None and self._flush_due is None:
            self._flush_due = asyncio.get_running_loop().call_later(self._flush_after,
                                                                    self.flush)
        route = record.route
        in_flight = self._in_flight
        if route in in_flight:
            in_flight[route] -= 1
        group = record.model_group
        if group is None or group not in self._served:
            group = ""
        error_type = record.error_type
        if error_type is not None and error_type not in self._error_types:
            error_type = self._error_type(error_type)
        key = (group, route, record.status, error_type)
        counts = self._requests.get(key)
        if counts is None:
            counts = self._request_counts(*key)
        counts.requests.value += 1
        if counts.failure is not None:
            counts.failure.value += 1
        counts.latency.observe(record.latency)
        upstream = record.upstream_latency
        if upstream is not None:
            counts.upstream.observe(upstream)
            if record.overhead is not None:
                counts.overhead.observe(record.overhead)
        if record.ttft is not None:
            counts.ttft.observe(record.ttft)
        if record.retries:
            counts.retries.value += record.retries
        if record.fallbacks:
            counts.fallbacks.value += record.fallbacks
        if record.prompt_tokens or record.completion_tokens or record.cost:
            spend_key = (group, record.key_alias, record.team_id, record.team_alias)
            spent = self._spend.get(spend_key)
            if spent is None:
                spent = self._spend_counts(*spend_key)
            spent.input.value += record.prompt_tokens
            spent.output.value += record.completion_tokens
            if record.reasoning_tokens:
                spent.reasoning.value += record.reasoning_tokens
            if record.cost > 0:
                spent.spend.value += record.cost

    def flush(self) -> None:
        """Move what was counted since the last flush into the metrics."""
        if self._flush_due is not None:
            self._flush_due.cancel()
            self._flush_due = None
        in_flight = self.metrics.in_flight
        for route, count in self._in_flight.items():
            in_flight.labels(route).set(count)
        for counts in self._requests.values():
            for part in counts:
                if part is not None:
                    part.flush()
        for spent in self._spend.values():
            for part in spent:
                part.flush()
        for watch in self._watches.values():
            watch.flush()

    async def aclose(self) -> None:
        self.flush()  # (with several workers: what this one counted outlives it)

    def _error_type(self, error_type: str) -> str:
        if len(self._error_types) >= MAX_ERROR_TYPES:
            return "other"
        self._error_types.add(error_type)
        return error_type

    def _request_counts(self, group: str, route: str, status: int, error_type: str | None
                        ) -> _Request:
        m = self.metrics
        status_class = _CLASSES.get(status // 100, "other")
        failure = None
        if status >= 400 or error_type is not None:
            failure = tally.Counter(
                m.failures.labels(group, route, status_class, error_type or "error"))
        counts = self._requests[(group, route, status, error_type)] = _Request(
            tally.Counter(m.requests.labels(group, route, status_class)), failure,
            tally.Histogram(m.latency.labels(group, route)),
            tally.Histogram(m.upstream.labels(group, route)),
            tally.Histogram(m.overhead.labels(group, route)),
            tally.Histogram(m.ttft.labels(group)),
            tally.Counter(m.retries.labels(group)), tally.Counter(m.fallbacks.labels(group)))
        return counts

    def _spend_counts(self, group: str, alias: str | None, team: str | None,
                      team_alias: str | None) -> _Spend:
        m = self.metrics
        labels = (group, alias or "", team or "", team_alias or "")
        spent = self._spend[(group, alias, team, team_alias)] = _Spend(
            tally.Counter(m.input_tokens.labels(*labels)),
            tally.Counter(m.output_tokens.labels(*labels)),
            tally.Counter(m.reasoning_tokens.labels(*labels)),
            tally.Counter(m.spend.labels(*labels)))
        return spent

    # -- the router's observer ------------------------------------------------------------

    def attempt_started(self, deployment: Deployment, model: str, stream: bool
                        ) -> _DeploymentWatch:
        watch = self._watches.get(deployment.id)
        if watch is None:
            watch = self._watches[deployment.id] = _DeploymentWatch(self.metrics, deployment)
        return watch

    def cooled_down(self, deployment: Deployment, seconds: float) -> None:
        self.metrics.cooldowns.labels(deployment.model_name, deployment.id).inc()
