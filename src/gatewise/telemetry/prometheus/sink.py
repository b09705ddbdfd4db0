"""``PrometheusSink``: each request's record -> counters and histograms.

A request costs a few dict lookups and increments: the label children of each combination
seen are made once and kept (``labels()`` itself is slower than the increments it gives).
Label values are bounded here again, whatever a record says: a model group the proxy does
not serve counts as ``""``, and past :data:`MAX_ERROR_TYPES` distinct error types new ones
count as ``other``.

It is also the router's attempt observer (``gatewise.router.observe``): each call to a
deployment and its outcome, each cooldown.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from gatewise.record import RequestRecord
from gatewise.router.deployments import Deployment
from gatewise.telemetry.prometheus.metrics import Metrics

__all__ = ["MAX_ERROR_TYPES", "PrometheusSink"]

MAX_ERROR_TYPES = 64
_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class _Request(NamedTuple):
    """The children of one (model group, route, status, error type)."""

    requests: Any
    failure: Any  # None for a success
    latency: Any
    upstream: Any
    overhead: Any
    ttft: Any
    retries: Any
    fallbacks: Any


class _Spend(NamedTuple):
    input: Any
    output: Any
    reasoning: Any
    spend: Any


class _DeploymentWatch:
    """The attempt watch of one deployment (stateless: one made per deployment, reused)."""

    __slots__ = ("_children", "_labels", "_metrics", "headers")

    def __init__(self, metrics: Metrics, deployment: Deployment) -> None:
        self._metrics = metrics
        self._labels = (deployment.model_name, deployment.id)
        self._children: dict[str, Any] = {}
        self.headers: tuple[tuple[str, str], ...] = ()

    def ended(self, error: BaseException | None, usage: Any) -> None:
        outcome = "success" if error is None else type(error).__name__
        child = self._children.get(outcome)
        if child is None:
            child = self._children[outcome] = self._metrics.attempts.labels(
                *self._labels, outcome)
        child.inc()


class PrometheusSink:
    wants_details = False

    def __init__(self, metrics: Metrics, served: Collection[str]) -> None:
        self.metrics = metrics
        self._served = frozenset(served)
        self._requests: dict[tuple[Any, ...], _Request] = {}
        self._spend: dict[tuple[Any, ...], _Spend] = {}
        self._in_flight: dict[str, Any] = {}
        self._error_types: set[str] = set()
        self._watches: dict[str, _DeploymentWatch] = {}

    # -- the sink -----------------------------------------------------------------------------

    def start(self, record: RequestRecord, headers: Sequence[tuple[bytes, bytes]]) -> None:
        gauge = self._in_flight.get(record.route)
        if gauge is None:
            gauge = self._in_flight[record.route] = self.metrics.in_flight.labels(record.route)
        gauge.inc()

    def emit(self, record: RequestRecord) -> None:
        route = record.route
        gauge = self._in_flight.get(route)
        if gauge is not None:
            gauge.dec()
        group = record.model_group
        if group is None or group not in self._served:
            group = ""
        error_type = record.error_type
        if error_type is not None and error_type not in self._error_types:
            error_type = self._error_type(error_type)
        key = (group, route, record.status, error_type)
        children = self._requests.get(key)
        if children is None:
            children = self._request_children(*key)
        children.requests.inc()
        if children.failure is not None:
            children.failure.inc()
        children.latency.observe(record.latency)
        if record.upstream_latency is not None:
            children.upstream.observe(record.upstream_latency)
            if record.overhead is not None:
                children.overhead.observe(record.overhead)
        if record.ttft is not None:
            children.ttft.observe(record.ttft)
        if record.retries:
            children.retries.inc(record.retries)
        if record.fallbacks:
            children.fallbacks.inc(record.fallbacks)
        if record.prompt_tokens or record.completion_tokens or record.cost:
            spend_key = (group, record.key_alias, record.team_id, record.team_alias)
            spent = self._spend.get(spend_key)
            if spent is None:
                spent = self._spend_children(*spend_key)
            spent.input.inc(record.prompt_tokens)
            spent.output.inc(record.completion_tokens)
            if record.reasoning_tokens:
                spent.reasoning.inc(record.reasoning_tokens)
            if record.cost > 0:
                spent.spend.inc(record.cost)

    async def aclose(self) -> None:
        return None

    def _error_type(self, error_type: str) -> str:
        if len(self._error_types) >= MAX_ERROR_TYPES:
            return "other"
        self._error_types.add(error_type)
        return error_type

    def _request_children(self, group: str, route: str, status: int, error_type: str | None
                          ) -> _Request:
        m = self.metrics
        status_class = _CLASSES.get(status // 100, "other")
        failure = None
        if status >= 400 or error_type is not None:
            failure = m.failures.labels(group, route, status_class, error_type or "error")
        children = self._requests[(group, route, status, error_type)] = _Request(
            m.requests.labels(group, route, status_class), failure,
            m.latency.labels(group, route), m.upstream.labels(group, route),
            m.overhead.labels(group, route), m.ttft.labels(group),
            m.retries.labels(group), m.fallbacks.labels(group))
        return children

    def _spend_children(self, group: str, alias: str | None, team: str | None,
                        team_alias: str | None) -> _Spend:
        m = self.metrics
        labels = (group, alias or "", team or "", team_alias or "")
        spent = self._spend[(group, alias, team, team_alias)] = _Spend(
            m.input_tokens.labels(*labels), m.output_tokens.labels(*labels),
            m.reasoning_tokens.labels(*labels), m.spend.labels(*labels))
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
