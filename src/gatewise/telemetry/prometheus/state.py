"""What the metrics read rather than count, refreshed when ``/metrics`` is scraped (and,
with several workers, every :data:`REFRESH_SECONDS` by each worker, so that a scrape
answered by one shows the others' too).

* each deployment's state (healthy, cooling down, at its limit, unavailable), the seconds
  left of a cooldown, its calls in flight, the requests and tokens its rpm/tpm still
  allow this minute: the router's health report (one snapshot of the live store);
* the remaining budget of each virtual key and team that has one, among the keys the
  access layer has cached (those used since the proxy started): the budget less what the
  live store says was spent this period (``scope_spend``, where the store has it);
* the ledger's queue and what became of its rows, the sinks' errors, the request log's
  drops, the shared store's latency and errors: counters kept by their owners, added to
  the metrics' as differences (so that several workers' add up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gatewise.telemetry.prometheus.metrics import Metrics

if TYPE_CHECKING:
    from gatewise.proxy.state import AppState

__all__ = ["FLUSH_SECONDS", "REFRESH_SECONDS", "StateGauges"]

logger = logging.getLogger("gatewise.telemetry")
REFRESH_SECONDS = 5.0
FLUSH_SECONDS = 1.0
"""With several workers: the most a worker's requests wait to be seen by a scrape another
worker answers (each counts in memory, then flushes: see ``prometheus/tally.py``)."""
_STATES = ("healthy", "cooling_down", "at_limit", "unavailable")
_LEDGER_ROWS = ("written", "duplicates", "dropped", "rejected")


class StateGauges:
    def __init__(self, metrics: Metrics, state: AppState,
                 log_dropped: Callable[[], int] | None = None) -> None:
        self.metrics = metrics
        self.state = state
        self.log_dropped = log_dropped
        self._seen: dict[str, float] = {}  # a counter's value at the last refresh
        self._budgets: set[tuple[Any, str, str]] = set()

    async def refresh(self) -> None:
        """Read everything once; a part that fails is logged, the others still refresh."""
        for part in (self._deployments, self._budgets_left):
            try:
                await part()
            except Exception:
                logger.exception("metrics: could not read the %s", part.__name__.strip("_"))
        try:
            self._counters()
        except Exception:
            logger.exception("metrics: could not read the counters")

    async def _deployments(self) -> None:
        m, state = self.metrics, self.state
        health = {h.id: h for h in await state.router.ahealth()} if state.served else {}
        for deployment in state.deployments:
            labels = (deployment.model_name, deployment.id)
            seen = health.get(deployment.id)
            current = "unavailable" if seen is None else seen.status
            for name in _STATES:
                m.deployment_state.labels(*labels, name).set(1 if name == current else 0)
            if seen is None:
                continue
            m.cooldown_remaining.labels(*labels).set(seen.cooldown_remaining or 0.0)
            m.deployment_in_flight.labels(*labels).set(seen.in_flight)
            if seen.rpm is not None:
                m.remaining_requests.labels(*labels).set(
                    max(0, seen.rpm - seen.requests_this_minute))
            if seen.tpm is not None:
                m.remaining_tokens.labels(*labels).set(
                    max(0, seen.tpm - seen.tokens_this_minute))

    async def _budgets_left(self) -> None:
        state = self.state
        spend_of = getattr(state.live, "scope_spend", None)
        if spend_of is None:
            return
        found: dict[tuple[Any, str, str], Any] = {}
        for entry in list(state.access.cache.entries.values()):
            identity = entry.identity
            for scope in entry.scopes:
                if scope.max_budget is None:
                    continue
                if scope.kind == "key" and identity.key is not None:
                    found[(self.metrics.key_budget, scope.id,
                           identity.key.key_alias or "")] = scope
                elif scope.kind == "team" and identity.team is not None:
                    found[(self.metrics.team_budget, scope.id,
                           identity.team.team_alias or "")] = scope
        spent = await spend_of(list(found.values()), state.clock()) if found else {}
        for (gauge, ref, alias), scope in found.items():
            left = scope.max_budget - spent.get(scope.name, scope.base_spend)
            gauge.labels(ref, alias).set(max(0.0, left))
        for gone in self._budgets - found.keys():  # a key changed or deleted meanwhile
            gauge, ref, alias = gone
            gauge.remove(ref, alias)
        self._budgets = set(found)

    def _counters(self) -> None:
        m, state = self.metrics, self.state
        ledger = state.ledger
        if ledger is not None:
            counts = ledger.counters()
            m.ledger_queue.set(counts.get("queued", 0))
            for name in _LEDGER_ROWS:
                self._add(f"ledger.{name}", counts.get(name, 0),
                          m.ledger_rows.labels(name.rstrip("s")))
            self._add("ledger.failures", counts.get("failures", 0), m.ledger_failures)
        self._add("sinks.errors", state.sinks.errors, m.sink_errors)
        if self.log_dropped is not None:
            self._add("log.dropped", self.log_dropped(), m.log_dropped)
        store = getattr(state.live, "telemetry", None)
        if callable(store):  # a shared store's own figures (latency, errors, reachable)
            figures = store()
            m.shared_store()
            assert m.store_latency is not None and m.store_errors is not None
            assert m.store_up is not None
            if figures.get("latency") is not None:
                m.store_latency.set(figures["latency"])
            self._add("store.errors", figures.get("errors", 0), m.store_errors)
            m.store_up.set(1 if figures.get("up", True) else 0)

    def _add(self, name: str, value: float, counter: Any) -> None:
        """Add to ``counter`` what ``value`` (a count kept elsewhere) grew by since the last
        refresh."""
        grown = value - self._seen.get(name, 0)
        if grown > 0:
            counter.inc(grown)
        self._seen[name] = value
