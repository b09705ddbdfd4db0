"""The in-process store's scope bookkeeping: requests and tokens per minute window,
requests in flight, and each budget period's spend and reservations.

Not thread-safe on its own: ``MemoryStore`` calls it under its lock, so checking every
scope and taking the request into all of them is one atomic step, as a shared store does
it in one script.
"""

from __future__ import annotations

from dataclasses import dataclass

from gatewise.state.ticket import (
    BudgetExceededError,
    RateLimitExceededError,
    Remaining,
    Scope,
    Ticket,
)

WINDOW = 60.0
EPSILON = 1e-9
"""Budget sums are floats: ten reservations of 0.1 fit a budget of 1.0."""


@dataclass(slots=True)
class _Counts:
    window: int = -1
    requests: int = 0
    tokens: int = 0
    parallel: int = 0
    period: int = -1
    spend: float = 0.0
    reserved: float = 0.0

    def roll(self, scope: Scope, now: float) -> None:
        window = int(now // WINDOW)
        if window != self.window:
            self.window, self.requests, self.tokens = window, 0, 0
        if scope.period != self.period:
            # A new budget period (or the first sight of this one): it starts from what
            # the database knew, and the reservations of requests admitted in the last
            # one go on being held until they settle.
            self.period, self.spend = scope.period, scope.base_spend


def _retry(now: float) -> float:
    """Seconds until the next minute window."""
    return round(WINDOW - now % WINDOW, 3)


class ScopeCounters:
    def __init__(self) -> None:
        self._counts: dict[str, _Counts] = {}

    def _get(self, scope: Scope, now: float) -> _Counts:
        counts = self._counts.get(scope.name)
        if counts is None:
            counts = self._counts[scope.name] = _Counts()
        counts.roll(scope, now)
        return counts

    def check(self, ticket: Ticket, now: float) -> list[_Counts]:
        """Raise the refusal of the first scope that cannot take the request; else the
        scopes' counts, for :meth:`take`."""
        remaining = Remaining()
        found = []
        for scope in ticket.scopes:
            counts = self._get(scope, now)
            if scope.rpm is not None and counts.requests >= scope.rpm:
                raise RateLimitExceededError(scope, "rpm", counts.requests, scope.rpm,
                                             _retry(now), remaining)
            if (scope.tpm is not None and counts.tokens > 0
                    and counts.tokens + ticket.tokens > scope.tpm):
                raise RateLimitExceededError(scope, "tpm", counts.tokens, scope.tpm,
                                             _retry(now), remaining)
            if scope.parallel is not None and counts.parallel >= scope.parallel:
                raise RateLimitExceededError(scope, "parallel", counts.parallel,
                                             scope.parallel, 1.0, remaining)
            if scope.max_budget is not None and (
                    counts.spend >= scope.max_budget
                    or counts.spend + counts.reserved + ticket.reserve
                    > scope.max_budget + EPSILON):
                raise BudgetExceededError(scope, counts.spend, counts.reserved, remaining)
            found.append(counts)
        return found

    def take(self, ticket: Ticket, found: list[_Counts]) -> None:
        """Count the request in every scope (``found``: what :meth:`check` passed, in the
        same step)."""
        remaining = ticket.remaining
        tokens = max(0, ticket.tokens)
        for scope, counts in zip(ticket.scopes, found, strict=True):
            counts.requests += 1
            counts.tokens += tokens
            counts.parallel += 1
            counts.reserved += ticket.reserve
            if scope.rpm is not None:
                left = scope.rpm - counts.requests
                remaining.requests = left if remaining.requests is None else min(
                    left, remaining.requests)
            if scope.tpm is not None:
                left = max(0, scope.tpm - counts.tokens)
                remaining.tokens = left if remaining.tokens is None else min(
                    left, remaining.tokens)
            if scope.kind == "key":
                remaining.spend = counts.spend
                remaining.max_budget = scope.max_budget
        ticket.admitted = True

    def settle(self, ticket: Ticket, cost: float, tokens: int, now: float) -> None:
        """The end of an admitted request: its reservation becomes ``cost``, its estimated
        tokens ``tokens`` (the real count; the estimate when unknown)."""
        for scope in ticket.scopes:
            counts = self._get(scope, now)
            counts.parallel = max(0, counts.parallel - 1)
            counts.reserved = max(0.0, counts.reserved - ticket.reserve)
            counts.spend += cost
            if tokens != ticket.tokens:
                counts.tokens = max(0, counts.tokens + tokens - ticket.tokens)
        ticket.settled = True

    def spend(self, scope: Scope, now: float) -> float:
        return self._get(scope, now).spend
