"""Admission tickets against a state store: every scope checked and taken with the
deployment in one step, refusals that say which limit, reservations that hold budgets
under concurrency, settlement exactly once.  Runs against every store (conftest)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from gatewise.router.store import StateStore
from gatewise.state.ticket import (
    BudgetExceededError,
    LimitExceeded,
    RateLimitExceededError,
    Scope,
    Ticket,
)

NOW = 6_000_030.0  # half-way through a minute window
_ids = itertools.count()


def ticket(*scopes: Scope, tokens: int = 10, reserve: float = 0.0) -> Ticket:
    return Ticket(f"call-{next(_ids)}", scopes, tokens=tokens, reserve=reserve)


async def admit(store: StateStore, t: Ticket, deployment: str = "d1", now: float = NOW,
                rpm: int | None = None) -> bool:
    return await store.acquire(deployment, now, rpm=rpm, tpm=None, tokens=t.tokens, ticket=t)


async def finish(store: StateStore, t: Ticket, cost: float = 0.0, used: int | None = None,
                 deployment: str = "d1", now: float = NOW) -> None:
    t.cost, t.used_tokens = cost, used
    await store.release(deployment, now, ticket=t)


async def test_rpm_refuses_the_request_over_the_limit(store: StateStore) -> None:
    key = Scope("key", "k-rpm", rpm=3)
    for _ in range(3):
        t = ticket(key)
        assert await admit(store, t)
        await finish(store, t)
    with pytest.raises(RateLimitExceededError) as refused:
        await admit(store, ticket(key))
    assert refused.value.limit == "rpm" and refused.value.scope == key
    assert 0 < (refused.value.retry_after or 0) <= 60
    assert refused.value.status_code == 429
    # the next minute window lets it through again
    assert await admit(store, ticket(key), now=NOW + 60)


async def test_tpm_counts_estimates_then_real_usage(store: StateStore) -> None:
    key = Scope("key", "k-tpm", tpm=100)
    first = ticket(key, tokens=60)
    assert await admit(store, first)
    await finish(store, first, used=20)  # it used less than estimated: 20 counted
    second = ticket(key, tokens=70)
    assert await admit(store, second)  # 20 + 70 <= 100
    with pytest.raises(RateLimitExceededError, match="tokens per minute"):
        await admit(store, ticket(key, tokens=30))


async def test_parallel_limit_frees_on_settlement(store: StateStore) -> None:
    key = Scope("key", "k-par", parallel=2)
    held = [ticket(key), ticket(key)]
    for t in held:
        assert await admit(store, t)
    with pytest.raises(RateLimitExceededError, match="parallel"):
        await admit(store, ticket(key))
    await finish(store, held[0])
    assert await admit(store, ticket(key))


async def test_budget_reservations_hold_under_concurrency(store: StateStore) -> None:
    """50 concurrent requests, each reserving 0.1, on a budget of 1.0: exactly 10 in."""
    key = Scope("key", "k-budget", max_budget=1.0)
    tickets = [ticket(key, reserve=0.1) for _ in range(50)]
    outcomes = await asyncio.gather(*(admit(store, t) for t in tickets),
                                    return_exceptions=True)
    admitted = [t for t, o in zip(tickets, outcomes, strict=True) if o is True]
    refused = [o for o in outcomes if isinstance(o, BudgetExceededError)]
    assert len(admitted) == 10
    assert len(refused) == 50 - len(admitted)
    assert refused[0].openai_type == "budget_exceeded" and refused[0].status_code == 400
    for t in admitted:
        await finish(store, t, cost=0.12)  # each cost more than it reserved: over budget
    with pytest.raises(BudgetExceededError, match="current cost"):
        await admit(store, ticket(key, reserve=0.0))  # spent: even a free request is refused


async def test_settling_at_a_lower_cost_makes_room(store: StateStore) -> None:
    key = Scope("key", "k-room", max_budget=0.3)
    tickets = [ticket(key, reserve=0.1) for _ in range(3)]
    for t in tickets:
        assert await admit(store, t)
    with pytest.raises(BudgetExceededError):
        await admit(store, ticket(key, reserve=0.1))
    for t in tickets:
        await finish(store, t, cost=0.01)
    assert await admit(store, ticket(key, reserve=0.1))


async def test_the_tightest_scope_refuses_and_is_named(store: StateStore) -> None:
    key = Scope("key", "k-wide", rpm=100)
    team = Scope("team", "t-narrow", rpm=1)
    assert await admit(store, ticket(key, team))
    with pytest.raises(RateLimitExceededError) as refused:
        await admit(store, ticket(key, team))
    assert refused.value.scope.kind == "team" and "team" in refused.value.message


async def test_no_deployment_means_no_admission(store: StateStore) -> None:
    """A deployment at its limit refuses the acquire; the ticket is not taken, and is
    admitted with the next deployment that can serve."""
    key = Scope("key", "k-dep", rpm=1)
    assert await store.acquire("busy", NOW, rpm=1, tpm=None, tokens=1)
    t = ticket(key)
    assert not await admit(store, t, deployment="busy", rpm=1)
    assert not t.admitted
    assert await admit(store, t, deployment="free")
    assert t.admitted


async def test_an_admitted_ticket_is_not_checked_again(store: StateStore) -> None:
    """A retry on another deployment does not count the request twice."""
    key = Scope("key", "k-retry", rpm=1)
    t = ticket(key)
    assert await admit(store, t, deployment="a")
    await store.release("a", NOW)  # the attempt failed: no settlement
    assert await admit(store, t, deployment="b")
    with pytest.raises(RateLimitExceededError):
        await admit(store, ticket(key))


async def test_settlement_happens_once(store: StateStore) -> None:
    key = Scope("key", "k-once", parallel=1, max_budget=1.0)
    t = ticket(key, reserve=0.2)
    assert await admit(store, t)
    await finish(store, t, cost=0.5)
    await store.settle(t, NOW)  # again: nothing more
    other = ticket(key, reserve=0.45)
    assert await admit(store, other)  # 0.5 spent + 0.45 fits; parallel freed once
    with pytest.raises(LimitExceeded):
        await admit(store, ticket(key, reserve=0.0))  # parallel 1 held by `other`


async def test_a_new_budget_period_starts_from_the_databases_spend(store: StateStore) -> None:
    old = Scope("key", "k-period", max_budget=1.0, period=100, base_spend=0.9)
    with pytest.raises(BudgetExceededError):
        await admit(store, ticket(old, reserve=0.2))
    new = Scope("key", "k-period", max_budget=1.0, period=200, base_spend=0.0)
    assert await admit(store, ticket(new, reserve=0.2))


async def test_remaining_says_what_the_tightest_scope_has_left(store: StateStore) -> None:
    key = Scope("key", "k-left", rpm=10, tpm=1000, max_budget=5.0, base_spend=1.5)
    team = Scope("team", "t-left", rpm=4)
    t = ticket(key, team, tokens=100)
    assert await admit(store, t)
    assert t.remaining.requests == 3 and t.remaining.tokens == 900
    assert t.remaining.spend == 1.5 and t.remaining.max_budget == 5.0
