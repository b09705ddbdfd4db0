"""``Fallback``: the store's local state while Redis is away.

A :class:`~gatewise.router.store.MemoryStore` keeps the accounting; each limit is divided
among the processes that shared Redis at the last heartbeat (``share``), so that while
Redis is away the processes together let through about what one Redis would have, not
``share`` times it (``redis_failure_mode: open``; ``closed`` refuses tickets instead,
see the store).

Two ledgers make the way back exact:

* ``held``: the deployments acquired here, so that a release decrements the local
  in-flight count only for a call that was counted in it;
* ``debts``: the spend settled while Redis was away (by budget scope and period), added to
  Redis's budgets when it answers again: a budget does not forget what was spent during
  an outage.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from gatewise.router.store import MemoryStore

if TYPE_CHECKING:
    from gatewise.state.ticket import Scope, Ticket

__all__ = ["Fallback"]


def _part(limit: int | None, share: int) -> int | None:
    return None if limit is None else max(1, limit // share)


def shared(scope: Scope, share: int) -> Scope:
    """``scope`` with this process's part of each limit and budget."""
    budget = scope.max_budget
    return replace(scope, rpm=_part(scope.rpm, share), tpm=_part(scope.tpm, share),
                   parallel=_part(scope.parallel, share),
                   max_budget=None if budget is None else budget / share,
                   base_spend=scope.base_spend / share)


@contextmanager
def _part_of(ticket: Ticket, share: int) -> Iterator[None]:
    """The ticket, for the memory store, with this process's part of its scopes (the
    memory store's calls do not suspend: nothing else sees the ticket meanwhile)."""
    if share <= 1:
        yield
        return
    scopes = ticket.scopes
    ticket.scopes = tuple(shared(s, share) for s in scopes)
    try:
        yield
    finally:
        ticket.scopes = scopes


class Fallback:
    def __init__(self) -> None:
        self.memory = MemoryStore()
        self.held: dict[str, int] = {}
        self.debts: dict[tuple[str, int], list[float]] = {}
        """``(scope name, period) -> [base spend, cost]`` not yet in Redis."""

    async def acquire(self, deployment_id: str, now: float, *, rpm: int | None,
                      tpm: int | None, tokens: int, ticket: Ticket | None, share: int) -> bool:
        if share > 1:
            rpm, tpm = _part(rpm, share), _part(tpm, share)
        if ticket is not None and not ticket.admitted:
            with _part_of(ticket, share):
                ok = await self.memory.acquire(deployment_id, now, rpm=rpm, tpm=tpm,
                                               tokens=tokens, ticket=ticket)
        else:
            ok = await self.memory.acquire(deployment_id, now, rpm=rpm, tpm=tpm,
                                           tokens=tokens, ticket=ticket)
        if ok:
            self.held[deployment_id] = self.held.get(deployment_id, 0) + 1
        return ok

    def holds(self, deployment_id: str) -> bool:
        return bool(self.held.get(deployment_id))

    async def release(self, deployment_id: str, now: float, *, latency: float | None = None,
                      first_token: bool = False, tokens: int = 0) -> None:
        """The end of a call: out of the local in-flight count if it was in it; its latency
        and tokens go to the local state either way."""
        held = self.held.get(deployment_id, 0)
        if held:
            self.held[deployment_id] = held - 1
            await self.memory.release(deployment_id, now, latency=latency,
                                      first_token=first_token, tokens=tokens)
        elif latency is not None:
            await self.memory.record_latency(deployment_id, latency, first_token=first_token)

    async def settle(self, ticket: Ticket, now: float, share: int) -> None:
        """Settle a ticket admitted here."""
        with _part_of(ticket, share):
            await self.memory.settle(ticket, now)

    def owe(self, ticket: Ticket) -> None:
        """Remember the ticket's cost for Redis's budgets."""
        cost = ticket.cost
        if not cost:
            return
        for scope in ticket.scopes:
            debt = self.debts.setdefault((scope.name, scope.period), [scope.base_spend, 0.0])
            debt[1] += cost

    def take_debts(self) -> list[Any]:
        """The debts as the ``spend`` operation's arguments (forgotten here: give them back
        with :meth:`restore` if they could not be paid)."""
        debts, self.debts = self.debts, {}
        args: list[Any] = [len(debts)]
        for (name, period), (base, cost) in debts.items():
            args += (name, period, base, cost)
        return args

    def restore(self, args: list[Any]) -> None:
        for i in range(args[0]):
            name, period, base, cost = args[1 + 4 * i: 5 + 4 * i]
            debt = self.debts.setdefault((name, period), [base, 0.0])
            debt[1] += cost
