"""A request's admission ticket: the scopes it is checked against, what it reserves, and
what became of it.

The proxy builds a :class:`Ticket` for a request from its caller's identity (a virtual key
and the team, user and end user it belongs to); the router hands it to its state store
with the first ``acquire`` of a deployment, which checks every scope and takes the request
into all of them in the same atomic step, or refuses it (:class:`LimitExceeded`, raised out
of the router: a refused request is never retried elsewhere).  The ``release`` that ends
the call settles it: the reservation is replaced by the real cost, the estimated tokens by
the real ones.  A call that fails is settled at cost 0 by the proxy (``settle``).

Budgets are reservations: each admitted request holds ``reserve`` (its estimated cost)
against every budget it counts toward until it is settled, so concurrent requests cannot
all slip under the line: ``spend + reserved + reserve`` must stay within ``max_budget``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gatewise._exceptions import BadRequestError, RateLimitError

__all__ = ["BudgetExceededError", "LimitExceeded", "RateLimitExceededError", "Remaining",
           "Scope", "Ticket"]


@dataclass(frozen=True, slots=True)
class Scope:
    """One identity's limits, as a request is admitted against them.

    ``period`` names the budget period (its end, in epoch seconds; 0 for a budget with no
    duration); ``base_spend`` is what the database knew of that period's spend when the
    identity was loaded: the live counter starts from it when it has nothing yet.
    """

    kind: str  # key / team / user / end_user
    id: str
    rpm: int | None = None
    tpm: int | None = None
    parallel: int | None = None
    max_budget: float | None = None
    period: int = 0
    base_spend: float = 0.0
    name: str = field(init=False, repr=False, compare=False)
    """``kind:id``: the scope's counters are kept under it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", f"{self.kind}:{self.id}")


@dataclass(slots=True)
class Remaining:
    """What the tightest scope has left after this request, for the response headers."""

    requests: int | None = None
    tokens: int | None = None
    spend: float | None = None  # the key's spend this period, before this request
    max_budget: float | None = None


@dataclass(slots=True, eq=False)
class Ticket:
    call_id: str
    scopes: tuple[Scope, ...]
    tokens: int = 0
    """Estimated prompt tokens, taken from every tpm limit at admission."""
    reserve: float = 0.0
    """Estimated cost, reserved against every budget at admission."""
    cost_of: Callable[[str, Any], float | None] | None = field(default=None, repr=False)
    """``(deployment_id, usage) -> cost``: what the settlement books."""
    admitted: bool = False
    settled: bool = False
    remaining: Remaining = field(default_factory=Remaining)
    deployment_id: str | None = None
    """Set with the settlement: who served the call, what it used and cost."""
    usage: Any = None
    used_tokens: int | None = None
    cost: float | None = None
    fallback_usage: Any = None
    """An estimate of what a stream used, set by its consumer when it ended before the
    upstream said (a client that left, a broken stream): settled with instead of 0."""

    def cost_for(self, deployment_id: str | None, usage: Any) -> float | None:
        """The cost to book for this call; None when unknown (no usage, no price: the
        settlement books 0)."""
        if deployment_id is None or usage is None or self.cost_of is None:
            return None
        return self.cost_of(deployment_id, usage)


class LimitExceeded(Exception):
    """Mixin of the refusals: which scope, which limit."""

    scope: Scope
    limit: str  # rpm / tpm / parallel / budget
    remaining: Remaining


class RateLimitExceededError(RateLimitError, LimitExceeded):
    """Over a key's (team's, user's, end user's) rpm, tpm or parallel limit: 429."""

    def __init__(self, scope: Scope, limit: str, used: float, allowed: float,
                 retry_after: float, remaining: Remaining) -> None:
        what = {"rpm": "requests per minute", "tpm": "tokens per minute",
                "parallel": "parallel requests"}[limit]
        super().__init__(
            f"{scope.kind.replace('_', ' ')} rate limit reached: {what} limit {allowed:g}, "
            f"current {used:g}; try again in {retry_after:g} s",
            retry_after=retry_after, code="rate_limit_exceeded")
        self.scope, self.limit, self.remaining = scope, limit, remaining


class BudgetExceededError(BadRequestError, LimitExceeded):
    """Over a budget: 400 with ``"type": "budget_exceeded"`` (LiteLLM's shape, which
    clients do not retry)."""

    openai_type = "budget_exceeded"

    def __init__(self, scope: Scope, spend: float, reserved: float, remaining: Remaining
                 ) -> None:
        held = f" (+{reserved:.6g} reserved by requests in flight)" if reserved > 0 else ""
        super().__init__(
            f"Budget has been exceeded! {scope.kind.replace('_', ' ')} {scope.id!r}: current "
            f"cost {spend:.6g}{held}, max budget {scope.max_budget:.6g}",
            code="budget_exceeded")
        self.scope, self.limit, self.remaining = scope, "budget", remaining
