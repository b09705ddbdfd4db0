"""``RedisStore``: the router's :class:`~gatewise.router.store.StateStore` on Redis, with
admission tickets, shared by every process and instance using the same Redis.

Each operation is one ``EVALSHA`` of ``state.lua`` (one round trip, atomic): a routed call
costs one on its way in (``acquire``: the ticket's scopes checked and taken with the
deployment) and one on its way out (``release``: the ticket settled with it).  Round trips
go through one multiplexed connection per process (:mod:`~gatewise.state.redis.pipe`).

The keys are drawn at the top of ``state.lua``.  Every key expires by itself: a window
one window after it ends, failures a minute after the last, a cooldown a minute after it
ends, a budget period's spend an hour after the period (a budget with no duration never:
its spend is all there is), in-flight and latency keys a day after their last use.  Counts of calls in flight, parallel requests and
reservations are filed per incarnation (see :mod:`~gatewise.state.redis.link`) and count
only while it beats, so a process that dies mid-request leaks nothing for longer than
``PROCESS_TTL`` (30 s).

Times are the callers' (the router's clock, which must be the store's :attr:`clock`: the
processes' agreed time).  While Redis is away (:mod:`~gatewise.state.redis.local`) every
operation goes to local state at once, without waiting; ``redis_failure_mode: closed``
refuses a ticket that needs admitting then (:class:`SharedStateUnavailableError`, 503).

Use it from one event loop (the proxy's): its connection belongs to the loop that started
it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import hiredis

from gatewise.router.store import DeploymentStats
from gatewise.state.redis.clock import SharedClock
from gatewise.state.redis.errors import ERRORS, SharedStateUnavailableError
from gatewise.state.redis.link import HEARTBEAT, RETRY, Link
from gatewise.state.redis.local import Fallback
from gatewise.state.redis.pipe import Pipe
from gatewise.state.redis.script import (
    NO_TICKET,
    NONE,
    NOT_HELD,
    Arguments,
    Script,
    admitted,
    refusal,
)
from gatewise.state.redis.settings import RedisSettings

if TYPE_CHECKING:
    from gatewise.state.ticket import Ticket

__all__ = ["RedisStore"]

EVALSHA = b"EVALSHA"
LOCAL = b"(local)"
"""Where a ticket admitted in local state is held (in ``_admitted``)."""
LOST: Any = object()
"""What a round trip gives when Redis is away (the store goes on locally)."""
COOLDOWN_GRACE = 60.0


class RedisStore:
    def __init__(self, settings: RedisSettings, *, clock: SharedClock | None = None,
                 expected_peers: int = 1, heartbeat: float = HEARTBEAT,
                 retry: float = RETRY) -> None:
        self.settings = settings
        self.clock = clock or SharedClock()
        """The agreed clock: give it to the router (``Router(clock=store.clock)``)."""
        self._script = Script()
        self.link = Link(settings, self.clock, self._script, expected_peers=expected_peers,
                         heartbeat=heartbeat, retry=retry)
        self.link.on_up = self._resumed
        self.fallback = Fallback()
        self._prefix = settings.prefix.encode()
        self._head = (EVALSHA, self._script.sha, 0)
        self._args = Arguments()
        self._held: dict[str, int] = {}
        """Deployments acquired under the current incarnation, not yet released."""
        self._admitted: dict[Ticket, bytes] = {}
        """Admitted, unsettled tickets -> the incarnation holding them (or ``LOCAL``)."""
        self._snapshots: dict[str, DeploymentStats] = {}
        self._members = itertools.count()

    def __repr__(self) -> str:
        state = "connected" if self.link.connected else "local"
        return f"RedisStore({self.settings.address}, {state})"

    async def start(self) -> bool:
        """Connect (bounded); False when Redis is away (the store works locally meanwhile
        and reconnects by itself)."""
        return await self.link.start()

    async def aclose(self) -> None:
        await self.link.aclose()

    @property
    def fallback_active(self) -> bool:
        return self.link.pipe is None

    async def _eval(self, pipe: Pipe, args: Sequence[Any]) -> Any:
        """One operation: its answer, or ``LOST`` (Redis is away: the store is local now)."""
        try:
            return await pipe.call(*self._head, *args)
        except ERRORS as exc:
            if isinstance(exc, hiredis.ReplyError) and str(exc).startswith("NOSCRIPT"):
                # Redis lost its scripts without dropping the connection (SCRIPT FLUSH).
                try:
                    await pipe.call("SCRIPT", "LOAD", self._script.text)
                    return await pipe.call(*self._head, *args)
                except ERRORS as again:
                    exc = again
            self.link.lost(pipe, exc)
            return LOST

    async def _resumed(self, pipe: Pipe) -> None:
        """Redis answers again, under a new incarnation: pay the spend booked meanwhile."""
        self._held = {}
        fallback = self.fallback
        if not fallback.debts:
            return
        debts = fallback.take_debts()
        try:
            await pipe.call(*self._head, b"spend", self._prefix, self.clock(), NONE,
                            *debts)
        except BaseException:
            fallback.restore(debts)
            raise

    # -- the deployment's way in and out ---------------------------------------------------

    async def acquire(self, deployment_id: str, now: float, *, rpm: int | None,
                      tpm: int | None, tokens: int, ticket: Ticket | None = None) -> bool:
        admit = ticket is not None and not ticket.admitted
        link = self.link
        pipe = link.pipe
        if pipe is not None:
            inc = link.inc
            args = [b"acquire", self._prefix, now, inc, deployment_id,
                    NONE if rpm is None else rpm, NONE if tpm is None else tpm, tokens]
            if admit and ticket is not None:
                args += self._args.admission(ticket)
            else:
                args += NO_TICKET
            reply = await self._eval(pipe, args)
            if reply is not LOST:
                status = reply[0]
                if status == 1:
                    held = self._held
                    held[deployment_id] = held.get(deployment_id, 0) + 1
                    if admit and ticket is not None:
                        admitted(ticket, reply)
                        self._admitted[ticket] = inc
                    return True
                if status == 0:
                    return False
                assert ticket is not None
                raise refusal(ticket, reply, now)
        if admit and self.settings.failure_mode == "closed":
            raise SharedStateUnavailableError(self.settings, link.error)
        ok = await self.fallback.acquire(deployment_id, now, rpm=rpm, tpm=tpm, tokens=tokens,
                                         ticket=ticket, share=link.peers)
        if ok and admit and ticket is not None:
            self._admitted[ticket] = LOCAL
        return ok

    async def release(self, deployment_id: str, now: float, *, latency: float | None = None,
                      first_token: bool = False, tokens: int = 0,
                      ticket: Ticket | None = None) -> None:
        where = None
        if ticket is not None and ticket.admitted and not ticket.settled:
            where = self._admitted.pop(ticket, None)
            if where is None:
                ticket.settled = True  # not admitted by this store: nothing to undo here
        held = self._held
        counted = held.get(deployment_id, 0)
        if counted:
            held[deployment_id] = counted - 1
        link = self.link
        pipe = link.pipe
        if pipe is not None:
            args = [b"release", self._prefix, now, link.inc, deployment_id,
                    1 if counted else 0,
                    NONE if latency is None else max(0.0, latency),
                    b"1" if first_token else NONE, tokens]
            if where is not None and ticket is not None:
                args += self._args.settlement(ticket, NOT_HELD if where is LOCAL else where)
            if await self._eval(pipe, args) is not LOST:
                if where is not None and ticket is not None:
                    if where is LOCAL:
                        await self.fallback.settle(ticket, now, link.peers)
                    ticket.settled = True
                if not counted and self.fallback.holds(deployment_id):
                    await self.fallback.release(deployment_id, now)
                return
        await self.fallback.release(deployment_id, now, latency=latency,
                                    first_token=first_token, tokens=tokens)
        if where is not None and ticket is not None:
            await self._settle_away(ticket, where, now)

    # -- tickets -----------------------------------------------------------------------

    async def settle(self, ticket: Ticket, now: float) -> None:
        if not ticket.admitted or ticket.settled:
            return
        where = self._admitted.pop(ticket, None)
        if where is None:
            ticket.settled = True
            return
        link = self.link
        pipe = link.pipe
        if pipe is not None:
            if where is LOCAL and not ticket.cost and ticket.used_tokens in (None,
                                                                            ticket.tokens):
                await self.fallback.settle(ticket, now, link.peers)  # nothing for Redis
                return
            args = [b"settle", self._prefix, now, link.inc,
                    *self._args.settlement(ticket, NOT_HELD if where is LOCAL else where)]
            if await self._eval(pipe, args) is not LOST:
                if where is LOCAL:
                    await self.fallback.settle(ticket, now, link.peers)
                ticket.settled = True
                return
        await self._settle_away(ticket, where, now)

    async def _settle_away(self, ticket: Ticket, where: bytes, now: float) -> None:
        """Settle while Redis is away: locally if admitted locally (what was held in Redis
        goes with the incarnation), and its spend owed to Redis's budgets."""
        if where is LOCAL:
            await self.fallback.settle(ticket, now, self.link.peers)
        ticket.settled = True
        self.fallback.owe(ticket)

    # -- failures, cooldowns, latencies, snapshots -------------------------------------

    async def record_failure(self, deployment_id: str, now: float) -> int:
        link = self.link
        pipe = link.pipe
        if pipe is not None:
            member = b"%s:%d" % (link.inc, next(self._members))
            count = await self._eval(pipe, [b"failure", self._prefix, now, link.inc,
                                            deployment_id, member])
            if count is not LOST:
                return int(count)
        return await self.fallback.memory.record_failure(deployment_id, now)

    async def set_cooldown(self, deployment_id: str, until: float) -> None:
        # Kept locally too: a cooldown still holds if Redis goes away during it.
        await self.fallback.memory.set_cooldown(deployment_id, until)
        link = self.link
        pipe = link.pipe
        if pipe is not None:
            now = self.clock()
            lifetime = int((max(0.0, until - now) + COOLDOWN_GRACE) * 1000)
            await self._eval(pipe, [b"cooldown", self._prefix, now, link.inc,
                                    deployment_id, until, lifetime])

    async def record_latency(self, deployment_id: str, seconds: float, *,
                             first_token: bool = False) -> None:
        link = self.link
        pipe = link.pipe
        if pipe is not None:
            done = await self._eval(pipe, [b"latency", self._prefix, self.clock(),
                                           link.inc, deployment_id,
                                           max(0.0, seconds),
                                           b"1" if first_token else NONE])
            if done is not LOST:
                return
        await self.fallback.memory.record_latency(deployment_id, seconds,
                                                  first_token=first_token)

    async def stats(self, deployment_ids: Sequence[str], now: float
                    ) -> dict[str, DeploymentStats]:
        link = self.link
        pipe = link.pipe
        if pipe is not None:
            rows = await self._eval(pipe, [b"stats", self._prefix, now, link.inc,
                                           *deployment_ids])
            if rows is not LOST:
                return {i: self._snapshot(i, row)
                        for i, row in zip(deployment_ids, rows, strict=True)}
        return await self.fallback.memory.stats(deployment_ids, now)

    def _snapshot(self, deployment_id: str, row: list[Any]) -> DeploymentStats:
        """A snapshot from the script's row; the last one when nothing changed (as the
        memory store: strategies may keep what they worked out from it)."""
        cooldown, requests, tokens, in_flight, latencies, ttfts, failures = row
        stats = DeploymentStats(
            in_flight=in_flight, latencies=tuple(float(x) for x in latencies),
            ttfts=tuple(float(x) for x in ttfts), requests=requests, tokens=tokens,
            cooldown_until=None if cooldown is None else float(cooldown), failures=failures)
        known = self._snapshots.get(deployment_id)
        if known == stats:
            return known
        self._snapshots[deployment_id] = stats
        return stats
