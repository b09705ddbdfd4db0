"""The router's live state, behind a small async protocol: memory now, a shared store later.

Every operation is atomic on its own (a shared store implements each as one script or
transaction), and the router never needs two of them to be atomic together: the one
check-then-act it needs, "is this deployment in rotation and under its rpm/tpm limit? then
count me in", is a single operation (:meth:`StateStore.acquire`).  A routed call makes two
store calls on its way (``acquire``, ``release``), plus a ``stats`` snapshot when its group
has a choice to make: each is one round trip for a shared store.

Times are the router's clock readings, passed in: the store never reads a clock, so tests
drive it with a fake one.  Usage is counted in fixed one-minute windows (``now // 60``).
A store shared by several processes needs a clock they agree on (``clock=time.time``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from gatewise.state.counters import ScopeCounters

if TYPE_CHECKING:
    from gatewise.state.ticket import Scope, Ticket

WINDOW = 60.0
"""Seconds in a usage window (rpm / tpm) and in the failure-counting window."""
RECENT = 10
"""How many recent latencies (and times to first token) are kept per deployment."""


def window_of(now: float) -> int:
    return int(now // WINDOW)


def window_end(now: float) -> float:
    """When the usage window holding ``now`` ends."""
    return (window_of(now) + 1) * WINDOW


def over_limit(requests: int, used_tokens: int, *, rpm: int | None, tpm: int | None,
               tokens: int) -> bool:
    """Whether one more request of ``tokens`` tokens would break a limit this window.

    A request bigger than the whole tpm budget is still let through on a fresh window.
    """
    if rpm is not None and requests >= rpm:
        return True
    return tpm is not None and used_tokens > 0 and used_tokens + tokens > tpm


@dataclass(frozen=True, slots=True)
class DeploymentStats:
    """A snapshot of one deployment's state, as strategies and health reports see it."""

    in_flight: int = 0
    latencies: tuple[float, ...] = ()
    ttfts: tuple[float, ...] = ()
    requests: int = 0
    """Requests counted in the current minute window."""
    tokens: int = 0
    """Tokens counted in the current minute window."""
    cooldown_until: float | None = None
    failures: int = 0
    """Failures counted in the last :data:`WINDOW` seconds."""


EMPTY = DeploymentStats()


@runtime_checkable
class StateStore(Protocol):
    """What the router keeps about deployments.  Each method is atomic by itself."""

    async def record_latency(self, deployment_id: str, seconds: float, *,
                             first_token: bool = False) -> None:
        """Remember a call's latency (or a stream's time to first token)."""

    async def acquire(self, deployment_id: str, now: float, *, rpm: int | None,
                      tpm: int | None, tokens: int, ticket: Ticket | None = None) -> bool:
        """If the deployment is not cooling down and is under both limits in the current
        window, count one request, ``tokens`` tokens and one call in flight, and return
        True; else change nothing and return False.

        With a ``ticket`` not yet admitted, its scopes are checked first (a refusal is
        raised: ``gatewise.state.ticket.LimitExceeded``) and, when the deployment can be
        had, the request is taken into them in the same atomic step."""

    async def release(self, deployment_id: str, now: float, *, latency: float | None = None,
                      first_token: bool = False, tokens: int = 0,
                      ticket: Ticket | None = None) -> None:
        """The end of an acquired call: no longer in flight, plus :meth:`record_latency`
        (when ``latency`` is given) and ``tokens`` added to the current window's count (the
        actual usage minus the estimate acquired with; may be negative).  With an admitted
        ``ticket``, settle it in the same step (:meth:`settle`)."""

    async def settle(self, ticket: Ticket, now: float) -> None:
        """Settle an admitted ticket: its reservation becomes ``ticket.cost`` (0 if None),
        its estimated tokens ``ticket.used_tokens`` (the estimate if None), and it is no
        longer in flight in its scopes.  Settling twice does nothing."""

    async def record_failure(self, deployment_id: str, now: float) -> int:
        """Count a failure; return how many fell in the last :data:`WINDOW` seconds."""

    async def set_cooldown(self, deployment_id: str, until: float) -> None:
        """Bench the deployment until ``until`` (a later existing cooldown wins) and forget
        its failures, so it comes back with a clean slate."""

    async def stats(self, deployment_ids: Sequence[str], now: float
                    ) -> dict[str, DeploymentStats]:
        """A snapshot of each deployment (one round trip for a shared store)."""


@dataclass(slots=True)
class _State:
    in_flight: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))
    ttfts: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))
    window: int = -1
    requests: int = 0
    tokens: int = 0
    failures: deque[float] = field(default_factory=deque)
    cooldown_until: float | None = None
    snapshot: DeploymentStats | None = None
    """The last snapshot, kept until the state changes (most calls change one deployment
    of a group, so the others' snapshots are reused)."""

    def roll(self, now: float) -> None:
        current = window_of(now)
        if current != self.window:
            self.window, self.requests, self.tokens = current, 0, 0
            self.snapshot = None

    def prune(self, now: float) -> None:
        while self.failures and self.failures[0] <= now - WINDOW:
            self.failures.popleft()
            self.snapshot = None


class MemoryStore:
    """The default store: this process only.  A lock (never held across an ``await``)
    makes each operation atomic even when a sync router's private loop and the caller's
    loop share the store."""

    def __init__(self) -> None:
        self._states: dict[str, _State] = {}
        self._scopes = ScopeCounters()
        self._lock = threading.Lock()

    def _state(self, deployment_id: str) -> _State:
        """The state, for a change: its snapshot is forgotten."""
        state = self._states.get(deployment_id)
        if state is None:
            state = self._states[deployment_id] = _State()
        else:
            state.snapshot = None
        return state

    async def record_latency(self, deployment_id: str, seconds: float, *,
                             first_token: bool = False) -> None:
        with self._lock:
            state = self._state(deployment_id)
            (state.ttfts if first_token else state.latencies).append(max(0.0, seconds))

    async def acquire(self, deployment_id: str, now: float, *, rpm: int | None,
                      tpm: int | None, tokens: int, ticket: Ticket | None = None) -> bool:
        # (_state, roll and over_limit written out: this runs on every call.)
        with self._lock:
            found = (self._scopes.check(ticket, now)
                     if ticket is not None and not ticket.admitted else None)
            state = self._states.get(deployment_id)
            if state is None:
                state = self._states[deployment_id] = _State()
            else:
                state.snapshot = None
            until = state.cooldown_until
            if until is not None and until > now:
                return False
            window = int(now // WINDOW)
            if window != state.window:
                state.window, state.requests, state.tokens = window, 0, 0
            if (rpm is not None and state.requests >= rpm) or (
                    tpm is not None and state.tokens > 0 and state.tokens + tokens > tpm):
                return False
            state.requests += 1
            state.tokens += max(0, tokens)
            state.in_flight += 1
            if found is not None:
                assert ticket is not None
                self._scopes.take(ticket, found)
            return True

    async def release(self, deployment_id: str, now: float, *, latency: float | None = None,
                      first_token: bool = False, tokens: int = 0,
                      ticket: Ticket | None = None) -> None:
        with self._lock:
            state = self._state(deployment_id)
            if state.in_flight > 0:
                state.in_flight -= 1
            if latency is not None:
                (state.ttfts if first_token else state.latencies).append(
                    latency if latency > 0.0 else 0.0)
            if tokens:
                state.roll(now)
                state.tokens = max(0, state.tokens + tokens)
            if ticket is not None:
                self._settle(ticket, now)

    async def settle(self, ticket: Ticket, now: float) -> None:
        with self._lock:
            self._settle(ticket, now)

    def _settle(self, ticket: Ticket, now: float) -> None:
        if ticket.admitted and not ticket.settled:
            used = ticket.used_tokens
            self._scopes.settle(ticket, ticket.cost or 0.0,
                                ticket.tokens if used is None else used, now)

    async def scope_spend(self, scopes: Sequence[Scope], now: float) -> dict[str, float]:
        """What each scope has spent this budget period (for metrics; not a protocol
        method: a store without it has no budgets to show)."""
        with self._lock:
            return {scope.name: self._scopes.spend(scope, now) for scope in scopes}

    async def record_failure(self, deployment_id: str, now: float) -> int:
        with self._lock:
            state = self._state(deployment_id)
            state.prune(now)
            state.failures.append(now)
            return len(state.failures)

    async def set_cooldown(self, deployment_id: str, until: float) -> None:
        with self._lock:
            state = self._state(deployment_id)
            if state.cooldown_until is None or until > state.cooldown_until:
                state.cooldown_until = until
            state.failures.clear()

    async def stats(self, deployment_ids: Sequence[str], now: float
                    ) -> dict[str, DeploymentStats]:
        with self._lock:
            return {i: self._snapshot(i, now) for i in deployment_ids}

    def _snapshot(self, deployment_id: str, now: float) -> DeploymentStats:
        state = self._states.get(deployment_id)
        if state is None:
            return EMPTY
        state.roll(now)
        state.prune(now)
        until = state.cooldown_until
        if until is not None and until <= now:
            until = state.cooldown_until = state.snapshot = None
        snapshot = state.snapshot
        if snapshot is None:
            snapshot = state.snapshot = DeploymentStats(
                in_flight=state.in_flight, latencies=tuple(state.latencies),
                ttfts=tuple(state.ttfts), requests=state.requests, tokens=state.tokens,
                cooldown_until=until, failures=len(state.failures),
            )
        return snapshot
