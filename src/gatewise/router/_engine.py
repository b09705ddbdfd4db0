"""The routing loop: groups of the fallback plan, retries within a group, failure booking.

For each group: pick an available deployment (not cooling down, under its rpm/tpm, best
``order`` tier, then the strategy) and acquire it atomically (simple-shuffle and lone
deployments skip the stats snapshot: ``acquire`` says who is available); call it; on
failure, book it (failure count, cooldown) and retry per :mod:`gatewise.router.policy` on
another deployment where one is ready, else on a tried one after its ``Retry-After`` or a
backoff.  An attempt that could not even open its connection (``APIConnectionError.unsent``)
moves on to another deployment of the group whatever the retry budget says: it sent
nothing.  When the group is spent, the plan's next group; when all are spent, the most
telling error, carrying every attempt.  Waits are ``asyncio.sleep``: nothing blocks the
event loop.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from gatewise._exceptions import APIConnectionError, APIError, RateLimitError
from gatewise.router._attempt import Caller, CallSpec, Send
from gatewise.router.deployments import Deployment
from gatewise.router.fallbacks import FallbackConfig, FallbackPlan
from gatewise.router.policy import (
    Attempt,
    Cooldown,
    Retry,
    final_error,
    policy_for,
    upstream_wait,
)
from gatewise.router.result import DeploymentHealth, RouteResult, health_of
from gatewise.router.store import StateStore
from gatewise.router.strategies import (
    Strategy,
    availability,
    best_tier,
    shuffle_weights,
    simple_shuffle,
    weighted_pick,
)


@dataclass(eq=False)
class Engine:
    """The router's moving parts, once its configuration has been checked."""

    groups: Mapping[str, tuple[Deployment, ...]]
    store: StateStore
    strategy: Strategy
    clock: Callable[[], float]
    rng: random.Random
    allowed_fails: int
    cooldown_time: float
    max_cooldown: float
    backoff: float
    max_wait: float
    timeout: float | None
    stream_timeout: float | None
    max_fallbacks: int
    capped: bool = False
    """Whether a call's own timeouts may only lower the configured ones."""
    caller: Caller = field(init=False)

    def __post_init__(self) -> None:
        self.caller = Caller(self.store, self.clock, self.failed, timeout=self.timeout,
                             stream_timeout=self.stream_timeout, capped=self.capped)
        # simple-shuffle needs no stats snapshot to choose: see _acquire_blind.
        self._blind = self.strategy is simple_shuffle
        self._first_tiers = {id(group): (tier, shuffle_weights(tier))
                             for group in self.groups.values() for tier in [best_tier(group)]}
        # The hot path's draw (route): each group's first tier and its weights' running sums.
        self._draws = {id(group): (tier, list(itertools.accumulate(weights)))
                       for group in self.groups.values()
                       for tier, weights in [self._first_tiers[id(group)]]}

    async def route(self, send: Send, spec: CallSpec, first: str, config: FallbackConfig,
                    budget: int) -> RouteResult[Any]:
        """Serve the call from group ``first``, then from its fallbacks in turn; raise when
        all have failed.  The first attempt, which serves almost every call, goes without
        the bookkeeping retries and fallbacks need."""
        group = self.groups[first]
        picked: Deployment | _Busy | None = None
        if self._blind or len(group) == 1:
            # _acquire_blind's first draw, written out (no frames of its own: this runs on
            # every call): weighted_pick's draw, bisected in the running sums.
            tier, sums = self._draws[id(group)]
            total = sums[-1]
            if len(tier) == 1:
                choice = tier[0]
            elif total > 0:
                drawn = bisect.bisect_right(sums, self.rng.random() * total)
                choice = tier[drawn if drawn < len(tier) else -1]
            else:
                choice = self.rng.choice(tier)
            if await self.store.acquire(choice.id, self.clock(), rpm=choice.rpm,
                                        tpm=choice.tpm, tokens=spec.tokens,
                                        ticket=spec.ticket):
                picked = choice
            elif len(group) > 1:
                picked = await self._acquire_blind(group, spec, without=choice)
        if picked is None:
            picked = await self._pick(group, spec, try_blind=False)
        if not isinstance(picked, Deployment):
            return await self._recover(send, spec, first, config, budget, picked)
        try:
            response = await self.caller.call(picked, send, spec)
        except APIError as exc:
            return await self._recover(send, spec, first, config, budget, (picked, exc))
        return RouteResult(response, picked.id, first, 0, 0, ())

    async def _recover(self, send: Send, spec: CallSpec, first: str, config: FallbackConfig,
                       budget: int, opening: _Busy | tuple[Deployment, APIError]
                       ) -> RouteResult[Any]:
        """The rest of a call whose first attempt failed (or found no deployment free)."""
        plan = FallbackPlan(first, config, max_fallbacks=self.max_fallbacks)
        run = _Run()
        start: _Busy | tuple[Deployment, APIError] | None = opening
        while (group := plan.next()) is not None:
            if group != first:
                run.fallbacks += 1
            outcome = await self._run_group(group, send, spec, budget, run, plan, start)
            if isinstance(outcome, RouteResult):
                return outcome
            start = None
            plan.failed(group, outcome)
        raise final_error(run.attempts, retries=run.retries, fallbacks=run.fallbacks)

    async def _run_group(self, group: str, send: Send, spec: CallSpec, budget: int,
                         run: _Run, plan: FallbackPlan,
                         start: _Busy | tuple[Deployment, APIError] | None = None
                         ) -> RouteResult[Any] | APIError:
        """Serve the call from ``group`` (whose first pick or attempt may have been made:
        ``start``), or return the error that ends the group's turn."""
        deployments = self.groups[group]
        tried: set[str] = set()
        last: APIError | None = None
        retries = 0
        if isinstance(start, _Busy):
            return self._none_free(group, deployments, run, start)
        limit: float | None = None  # the timeout of the call that failed with ``last``
        moves = 0  # moves on from a deployment that could not even be reached
        if start is not None:
            last = await self._book(group, run, tried, *start)
            limit = self.caller.timeout_for(start[0], spec)
        while True:
            if last is None:
                picked = await self._pick(deployments, spec)
                if isinstance(picked, _Busy):
                    return self._none_free(group, deployments, run, picked)
            else:
                target = None
                if isinstance(last, APIConnectionError) and last.unsent and (
                        moves < len(deployments)):
                    # Nothing reached the upstream: going to another deployment is always
                    # safe, whatever the retry budget (at most once per deployment).
                    found = await self._pick(deployments, spec, avoid=tried)
                    if isinstance(found, Deployment):
                        target = found
                        moves += 1
                if target is None:
                    if retries >= budget:
                        return last
                    may_wait = not plan.has_more(group, last)
                    target = await self._retry_target(deployments, spec, last, tried, retries,
                                                      may_wait=may_wait, limit=limit)
                    if target is None:
                        return last
                    retries += 1
                picked = target
                run.retries += 1
            try:
                response = await self.caller.call(picked, send, spec)
            except APIError as exc:
                last = await self._book(group, run, tried, picked, exc)
                limit = self.caller.timeout_for(picked, spec)
                continue
            return RouteResult(response, picked.id, group, run.retries, run.fallbacks,
                               tuple(run.attempts))

    def _none_free(self, group: str, deployments: Sequence[Deployment], run: _Run,
                   busy: _Busy) -> APIError:
        error = self._unavailable(group, deployments, busy.wait)
        run.attempts.append(Attempt(None, error, group))
        return error

    async def _book(self, group: str, run: _Run, tried: set[str], deployment: Deployment,
                    error: APIError) -> APIError:
        """A failed attempt: noted for the final error, counted against the deployment."""
        run.attempts.append(Attempt(deployment.id, error, group))
        await self.failed(deployment, error)
        tried.add(deployment.id)
        return error

    async def _retry_target(self, deployments: Sequence[Deployment], spec: CallSpec,
                            error: APIError, tried: set[str], retries: int, *, may_wait: bool,
                            limit: float | None) -> Deployment | None:
        """Where to retry after ``error``: another deployment when one is ready, else (if
        the error allows, and no fallback group is waiting to take over) a tried one after
        its ``Retry-After`` or a backoff, if that is no longer than ``limit`` (the call's
        timeout on the deployment that failed) and ``max_wait``."""
        rule = policy_for(error).retry
        if rule is Retry.NEVER:
            return None
        picked = await self._pick(deployments, spec, avoid=tried)
        if isinstance(picked, Deployment):
            return picked
        if rule is Retry.OTHER or not picked.avoided_only or not may_wait:
            return None
        delay = self._delay(error, retries, limit)
        if delay is None:
            return None
        await asyncio.sleep(delay)
        picked = await self._pick(deployments, spec)
        return picked if isinstance(picked, Deployment) else None

    async def _pick(self, deployments: Sequence[Deployment], spec: CallSpec, *,
                    avoid: set[str] | frozenset[str] = frozenset(), try_blind: bool = True
                    ) -> Deployment | _Busy:
        """Choose and acquire a deployment not in ``avoid``, or say why none can be had
        (``try_blind``: first the choice without stats, where it may do: _acquire_blind)."""
        if try_blind and not avoid and (self._blind or len(deployments) == 1):
            blind = await self._acquire_blind(deployments, spec)
            if blind is not None:
                return blind
        lost: set[str] = set()
        while True:
            now = self.clock()
            stats = await self.store.stats([d.id for d in deployments], now)
            ready, wait = availability(deployments, stats, now, tokens=spec.tokens)
            if lost:
                ready = [d for d in ready if d.id not in lost]
            pool = [d for d in ready if d.id not in avoid] if avoid else ready
            if not pool:
                return _Busy(wait, avoided_only=bool(ready))
            tier = best_tier(pool)
            choice = (tier[0] if len(tier) == 1
                      else self.strategy(tier, stats, self.rng, stream=spec.stream))
            if await self.store.acquire(choice.id, now, rpm=choice.rpm, tpm=choice.tpm,
                                        tokens=spec.tokens, ticket=spec.ticket):
                return choice
            lost.add(choice.id)  # another call took its last slot since the snapshot

    async def _acquire_blind(self, deployments: Sequence[Deployment], spec: CallSpec,
                             without: Deployment | None = None) -> Deployment | None:
        """The hot path when the choice needs no stats (one deployment, or simple-shuffle):
        choose among the group's first tier with the weights worked out at startup and let
        ``acquire`` say whether it can be had; if not, choose again without it (the same
        odds as choosing among those available).  None when none could be had: the caller
        then takes a snapshot to say why, and for how long.  ``without``: one ``route``
        has drawn and could not have."""
        now = self.clock()
        tier, weights = self._first_tiers[id(deployments)]
        rest: Sequence[Deployment] = deployments
        if without is not None:
            rest = [d for d in rest if d is not without]
            if not rest:
                return None
            tier = best_tier(rest)
            weights = shuffle_weights(tier)
        while True:
            choice = tier[0] if len(tier) == 1 else weighted_pick(tier, weights, self.rng)
            if await self.store.acquire(choice.id, now, rpm=choice.rpm, tpm=choice.tpm,
                                        tokens=spec.tokens, ticket=spec.ticket):
                return choice
            rest = [d for d in rest if d is not choice]
            if not rest:
                return None
            tier = best_tier(rest)
            weights = shuffle_weights(tier)

    def _unavailable(self, group: str, deployments: Sequence[Deployment],
                     wait: float | None) -> RateLimitError:
        seconds = 0.0 if wait is None else round(wait, 3)
        return RateLimitError(
            f"no deployment of {group!r} can take the call now ({len(deployments)} cooling "
            f"down or at their rpm/tpm limit); try again in {seconds:g} s",
            model=group, retry_after=seconds, code="no_deployments_available")

    def _delay(self, error: APIError, retry: int, limit: float | None) -> float | None:
        """How long to wait before using an already-tried deployment again: the upstream's
        ``Retry-After``, else a backoff; never longer than ``max_wait`` nor ``limit`` (a
        call is not held past what its timeout allows: None, do not wait)."""
        most = self.max_wait if limit is None else min(self.max_wait, limit)
        asked = upstream_wait(error)
        if asked is not None:
            return None if asked > most else asked
        ceiling = min(most, self.backoff * 2.0 ** max(0, retry))
        return ceiling / 2 + self.rng.random() * ceiling / 2

    async def failed(self, deployment: Deployment, error: APIError) -> None:
        """Book a failure: count it, and bench the deployment when the policy says so."""
        rule = policy_for(error).cooldown
        if rule is Cooldown.NONE:
            return
        now = self.clock()
        if rule is Cooldown.COUNT:
            failures = await self.store.record_failure(deployment.id, now)
            if failures < max(1, self.allowed_fails):
                return
        if len(self.groups[deployment.model_name]) < 2:
            return
        asked = upstream_wait(error)  # an upstream's wish, within what the operator allows
        seconds = self.cooldown_time if asked is None else min(asked, self.max_cooldown)
        if seconds > 0:
            await self.store.set_cooldown(deployment.id, now + seconds)
            observer = self.caller.observer
            if observer is not None:
                observer.cooled_down(deployment, seconds)

    async def health(self, deployments: Sequence[Deployment]) -> list[DeploymentHealth]:
        now = self.clock()
        return health_of(deployments, await self.store.stats([d.id for d in deployments], now),
                         now)


@dataclass(slots=True)
class _Run:
    """What one routed call has been through so far."""

    attempts: list[Attempt] = field(default_factory=list)
    retries: int = 0
    fallbacks: int = 0


class _Busy(NamedTuple):
    """No deployment to be had: ``wait`` seconds until one frees up (None: unknown), and
    whether some are ready but were to be avoided (already tried)."""

    wait: float | None
    avoided_only: bool
