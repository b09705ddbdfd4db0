"""``RedisStore``: the router's :class:`~gatewise.router.store.StateStore` on Redis, with
admission tickets, shared by every process and instance using the same Redis.

Each operation is one ``EVALSHA`` of ``state.lua`` (one round trip, atomic): a routed call
costs one on its way in (``acquire``: the ticket's scopes checked and taken with the
deployment) and one on its way out (``release``: the ticket settled with it, sent without
waiting for its answer).  Round trips
go through one multiplexed connection per process (:mod:`~gatewise.state.redis.pipe`).

The keys are drawn at the top of ``state.lua``.  Every key expires by itself: a window
one window after it ends, failures a minute after the last, a cooldown a minute after it
ends, a budget period's spend an hour after the period (a budget with no duration never:
its spend is all there is), in-flight and latency keys a day after their last use.
Counts of calls in flight, parallel requests and reservations are filed per incarnation
(see :mod:`~gatewise.state.redis.link`) and count only while it beats, so a process that
dies mid-request leaks nothing for longer than ``PROCESS_TTL`` (30 s).

Times are the callers' (the router's clock, which must be the store's :attr:`clock`: the
processes' agreed time).  While Redis is away (:mod:`~gatewise.state.redis.local`) every
operation goes to local state at once, without waiting; ``redis_failure_mode: closed``
refuses a ticket that needs admitting then (:class:`SharedStateUnavailableError`, 503).

Use it from one event loop (the proxy's): its connection belongs to the loop that started
it.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any

import hiredis

from gatewise.state.redis.clock import SharedClock
from gatewise.state.redis.errors import ERRORS, SharedStateUnavailableError
from gatewise.state.redis.link import HEARTBEAT, RETRY
from gatewise.state.redis.pipe import Pipe
from gatewise.state.redis.records import LOST, Records
from gatewise.state.redis.script import NOT_HELD, admitted, refusal
from gatewise.state.redis.settings import RedisSettings

if TYPE_CHECKING:
    from gatewise.state.ticket import Ticket

__all__ = ["RedisStore"]

LOCAL = b"(local)"
"""Where a ticket admitted in local state is held (in ``_admitted``)."""


class RedisStore(Records):
    def __init__(self, settings: RedisSettings, *, clock: SharedClock | None = None,
                 expected_peers: int = 1, heartbeat: float = HEARTBEAT,
                 retry: float = RETRY) -> None:
        super().__init__(settings, clock or SharedClock(), expected_peers=expected_peers,
                         heartbeat=heartbeat, retry=retry)
        self.link.on_up = self._resumed
        self._held: dict[str, int] = {}
        """Deployments acquired under the current incarnation, not yet released."""
        self._admitted: dict[Ticket, bytes] = {}
        """Admitted, unsettled tickets -> the incarnation holding them (or ``LOCAL``)."""
        self._resending: set[asyncio.Task[None]] = set()

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

    def telemetry(self) -> dict[str, Any]:
        """For the metrics: the last heartbeat's round trip (seconds), the failed round
        trips and connection attempts so far, whether Redis is reachable now."""
        link = self.link
        return {"latency": link.latency, "errors": link.errors, "up": link.connected}

    async def _resumed(self, pipe: Pipe) -> None:
        """Redis answers again, under a new incarnation: pay the spend booked meanwhile."""
        self._held = {}
        fallback = self.fallback
        if not fallback.debts:
            return
        debts = fallback.take_debts()
        try:
            await pipe.send(self._commands.generic(b"spend", self.clock(), b"", *debts))
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
            command = self._commands.acquire(now, inc, deployment_id, rpm, tpm, tokens,
                                             ticket if admit else None)
            reply = await self._eval(pipe, command)
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
        """Sent without waiting for the answer (write-behind): the caller's answer goes out
        a round trip sooner.  This process's later operations share the connection and
        are answered in order, so they see it; a failure found when the answer comes is
        booked then (the spend owed to Redis, the link lost).  :meth:`flush` waits."""
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
            settles = where is not None and ticket is not None
            command = self._commands.release(
                now, link.inc, deployment_id, bool(counted), latency, first_token, tokens,
                ticket if settles else None, NOT_HELD if where is LOCAL else where or b"")
            try:
                answer = pipe.send(command)
            except ERRORS as exc:
                link.lost(pipe, exc)
            else:
                answer.add_done_callback(partial(self._released, pipe, command,
                                                 ticket if settles else None))
                if settles and ticket is not None:
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

    def _released(self, pipe: Pipe, command: bytes, ticket: Ticket | None,
                  answer: asyncio.Future[Any]) -> None:
        """The answer to a release: nothing to do, unless it failed."""
        if answer.cancelled():
            return
        exc = answer.exception()
        if exc is None:
            return
        if isinstance(exc, hiredis.ReplyError) and str(exc).startswith("NOSCRIPT"):
            task = asyncio.get_running_loop().create_task(
                self._resend(pipe, command, ticket))
            self._resending.add(task)
            task.add_done_callback(self._resending.discard)
            return
        self.link.lost(pipe, exc)
        if ticket is not None:  # what was held goes with the incarnation; the spend is owed
            self.fallback.owe(ticket)

    async def _resend(self, pipe: Pipe, command: bytes, ticket: Ticket | None) -> None:
        if await self._eval(pipe, command) is LOST and ticket is not None:
            self.fallback.owe(ticket)

    async def flush(self) -> None:
        """Wait until Redis has answered every operation this process sent so far."""
        pipe = self.link.pipe
        if pipe is not None:
            try:
                await pipe.call("PING")
            except ERRORS as exc:
                self.link.lost(pipe, exc)

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
            command = self._commands.settle(now, link.inc, ticket,
                                            NOT_HELD if where is LOCAL else where)
            if await self._eval(pipe, command) is not LOST:
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
