"""The router carries an admission ticket: taken with the first acquire, settled by the
attempt that served (with its cost), refused before any upstream call, never re-taken on a
retry."""

from __future__ import annotations

from typing import Any

import pytest

from gatewise import Router
from gatewise.router.store import MemoryStore
from gatewise.state.ticket import BudgetExceededError, RateLimitExceededError, Scope, Ticket
from tests._net import refused_port
from tests.router._helpers import HELLO, entry


def _ticket(*scopes: Scope, reserve: float = 0.0) -> Ticket:
    def cost_of(deployment_id: str, usage: Any) -> float:
        return 0.001 * usage["total_tokens"]

    return Ticket("call", scopes, tokens=5, reserve=reserve, cost_of=cost_of)


async def test_a_served_call_settles_its_ticket_with_the_real_cost() -> None:
    store = MemoryStore()
    router = Router([entry("g", "m", mock_response="hello there")], store=store)
    key = Scope("key", "k", parallel=1, max_budget=10.0)
    ticket = _ticket(key, reserve=1.0)
    await router.acompletion_dict("g", HELLO, admission=ticket)
    assert ticket.admitted and ticket.settled and ticket.deployment_id == "m"
    assert ticket.usage["total_tokens"] > 0
    assert ticket.cost == pytest.approx(0.001 * ticket.usage["total_tokens"])
    again = _ticket(key)  # the parallel slot was freed by the settlement
    await router.acompletion_dict("g", HELLO, admission=again)


async def test_a_stream_settles_when_it_ends() -> None:
    router = Router([entry("g", "m", mock_response="streamed words")], store=MemoryStore())
    ticket = _ticket(Scope("key", "k-stream", parallel=1), reserve=0.5)
    stream: Any = (await router.acompletion_dict("g", HELLO, admission=ticket, stream=True,
                                                 stream_options={"include_usage": True})
                   ).response
    assert ticket.admitted and not ticket.settled
    async for _ in stream:
        pass
    assert ticket.settled and ticket.cost is not None and ticket.cost > 0


async def test_a_refusal_is_raised_before_any_call() -> None:
    port = refused_port()
    router = Router([entry("g", "dead", api_key="k", api_base=f"http://127.0.0.1:{port}/v1")],
                    store=MemoryStore())
    with pytest.raises(BudgetExceededError):
        await router.acompletion_dict("g", HELLO,
                                      admission=_ticket(Scope("key", "k", max_budget=0.0)))
    health = await router.ahealth()
    assert health[0].requests_this_minute == 0  # the deployment was never acquired


async def test_a_retry_does_not_take_the_ticket_twice() -> None:
    port = refused_port()
    router = Router([
        entry("g", "dead", api_key="k", api_base=f"http://127.0.0.1:{port}/v1", order=1),
        entry("g", "live", mock_response="ok", order=2),
    ], store=MemoryStore(), num_retries=1, retry_backoff=0.0)
    key = Scope("key", "k-once", rpm=1)
    ticket = _ticket(key)
    result = await router.acompletion_dict("g", HELLO, admission=ticket)
    assert result.deployment_id == "live" and ticket.settled
    with pytest.raises(RateLimitExceededError):
        await router.acompletion_dict("g", HELLO, admission=_ticket(key))
    await router.aclose()


async def test_a_failed_call_leaves_its_ticket_for_the_caller_to_settle() -> None:
    port = refused_port()
    store = MemoryStore()
    router = Router([entry("g", "dead", api_key="k", api_base=f"http://127.0.0.1:{port}/v1")],
                    store=store, num_retries=0)
    ticket = _ticket(Scope("key", "k-fail", parallel=1), reserve=0.3)
    with pytest.raises(Exception, match=r"connect|reach"):
        await router.acompletion_dict("g", HELLO, admission=ticket)
    assert ticket.admitted and not ticket.settled
    await store.settle(ticket, 0.0)
    assert ticket.settled
    await router.aclose()


async def test_a_call_of_unknown_cost_settles_at_zero_and_says_so() -> None:
    """``Ticket.cost`` is None when no price is known (the proxy then sends no cost header,
    as for the master key); the budget books 0."""
    store = MemoryStore()
    router = Router([entry("g", "m", mock_response="hello there")], store=store)
    key = Scope("key", "k", max_budget=10.0)
    ticket = Ticket("call", (key,), tokens=5, reserve=1.0, cost_of=lambda _d, _u: None)
    await router.acompletion_dict("g", HELLO, admission=ticket)
    assert ticket.settled and ticket.cost is None
    assert (await store.scope_spend([key], 0.0))[key.name] == 0.0
    assert Ticket("c", (key,)).cost_for("d", {"total_tokens": 1}) is None  # no pricing


def test_a_scope_is_counted_under_its_kind_and_id() -> None:
    scope = Scope("team", "t-1", rpm=5)
    assert scope.name == "team:t-1"
    assert scope == Scope("team", "t-1", rpm=5) and "name" not in repr(scope)
