"""Routing strategies: pure functions choosing one deployment among available candidates.

Each takes ``(candidates, stats, rng, stream=...)`` (candidates non-empty, already filtered
to the healthy deployments under their limits in the best ``order`` tier) and returns one
of them.  No I/O, no clock: the router hands in a stats snapshot and a seeded
``random.Random``, so the same inputs always give the same choice.

- ``simple-shuffle``: random, weighted by ``weight``; else by ``rpm``; else by ``tpm``;
  else uniform.  A deployment missing the weighting field counts as 1 (``weight``) or as
  the mean of the others (``rpm``/``tpm``: "no limit stated" is not "no capacity").
- ``least-busy``: fewest requests in flight.
- ``latency-based``: lowest mean of the recent latencies (times to first token for a
  stream, when known); a deployment never measured counts as fastest, so it gets tried;
  a small share of calls (``exploration``) goes to a random candidate so a deployment
  that was slow once is measured again.
- ``usage-based``: most headroom left in the current minute, as the smaller of the rpm and
  tpm fractions left (a deployment without limits has all its headroom).

Ties are broken at random, so equal deployments share the load.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from math import fsum
from statistics import fmean
from typing import Protocol

from gatewise.router.deployments import Deployment
from gatewise.router.store import EMPTY, DeploymentStats, over_limit, window_end

Stats = Mapping[str, DeploymentStats]

EXPLORATION = 0.1


class Strategy(Protocol):
    def __call__(self, candidates: Sequence[Deployment], stats: Stats, rng: random.Random,
                 *, stream: bool = False) -> Deployment: ...


def _lowest(candidates: Sequence[Deployment], score: Callable[[Deployment], float],
            rng: random.Random) -> Deployment:
    scores = [score(d) for d in candidates]
    best = min(scores)
    tied = [d for d, s in zip(candidates, scores, strict=True) if s == best]
    return tied[0] if len(tied) == 1 else rng.choice(tied)


def shuffle_weights(candidates: Sequence[Deployment]) -> list[float]:
    """The weights ``simple-shuffle`` gives ``candidates`` (see the module docstring)."""
    if any(d.weight is not None for d in candidates):
        return [1.0 if d.weight is None else d.weight for d in candidates]
    for name in ("rpm", "tpm"):
        values = [getattr(d, name) for d in candidates]
        given = [float(v) for v in values if v is not None]
        if given:
            default = fsum(given) / len(given)
            return [default if v is None else float(v) for v in values]
    return [1.0] * len(candidates)


def simple_shuffle(candidates: Sequence[Deployment], stats: Stats, rng: random.Random,
                   *, stream: bool = False) -> Deployment:
    if len(candidates) == 1:
        return candidates[0]
    return weighted_pick(candidates, shuffle_weights(candidates), rng)


def weighted_pick(candidates: Sequence[Deployment], weights: Sequence[float],
                  rng: random.Random) -> Deployment:
    """``rng.choices(candidates, weights)[0]`` without its generality (cheaper, on the hot
    path): the same draw, the same running sums, so the same pick."""
    total = sum(weights)
    if total <= 0:
        return rng.choice(candidates)
    point = rng.random() * total
    running = 0.0
    for candidate, weight in zip(candidates, weights, strict=True):
        running += weight
        if point < running:
            return candidate
    return candidates[-1]


def least_busy(candidates: Sequence[Deployment], stats: Stats, rng: random.Random,
               *, stream: bool = False) -> Deployment:
    return _lowest(candidates, lambda d: stats.get(d.id, EMPTY).in_flight, rng)


def recent_latency(stats: DeploymentStats, *, stream: bool) -> float | None:
    """Mean recent latency (time to first token for streams, when measured)."""
    samples = stats.ttfts if stream and stats.ttfts else stats.latencies
    return fmean(samples) if samples else None


def latency_based(candidates: Sequence[Deployment], stats: Stats, rng: random.Random,
                  *, stream: bool = False, exploration: float = EXPLORATION) -> Deployment:
    if len(candidates) > 1 and rng.random() < exploration:
        return rng.choice(candidates)

    def score(d: Deployment) -> float:
        latency = recent_latency(stats.get(d.id, EMPTY), stream=stream)
        return 0.0 if latency is None else latency

    return _lowest(candidates, score, rng)


def headroom(deployment: Deployment, stats: DeploymentStats) -> float:
    """The fraction of the deployment's rpm/tpm budget left this minute (1.0: no limits)."""
    left = 1.0
    if deployment.rpm is not None:
        left = min(left, 1.0 - stats.requests / deployment.rpm)
    if deployment.tpm is not None:
        left = min(left, 1.0 - stats.tokens / deployment.tpm)
    return left


def usage_based(candidates: Sequence[Deployment], stats: Stats, rng: random.Random,
                *, stream: bool = False) -> Deployment:
    return _lowest(candidates, lambda d: -headroom(d, stats.get(d.id, EMPTY)), rng)


STRATEGIES: dict[str, Strategy] = {
    "simple-shuffle": simple_shuffle,
    "least-busy": least_busy,
    "latency-based": latency_based,
    "usage-based": usage_based,
}
_ALIASES = {
    "shuffle": "simple-shuffle",
    "latency-based-routing": "latency-based",
    "lowest-latency": "latency-based",
    "usage-based-routing": "usage-based",
    "usage-based-routing-v2": "usage-based",
}


def strategy_named(name: str) -> Strategy:
    """The strategy for a ``routing_strategy`` setting (LiteLLM's spellings accepted)."""
    key = _ALIASES.get(name, name)
    try:
        return STRATEGIES[key]
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise ValueError(f"unknown routing_strategy {name!r}; choose one of: {known}") from None


def best_tier(candidates: Sequence[Deployment]) -> list[Deployment]:
    """The candidates in the lowest ``order`` tier (tier 2 only when tier 1 has none)."""
    tier = min(d.order for d in candidates)
    return [d for d in candidates if d.order == tier]


def availability(deployments: Sequence[Deployment], stats: Stats, now: float, *,
                 tokens: int = 0) -> tuple[list[Deployment], float | None]:
    """The deployments that can take a request now (not cooling down, under their limits),
    and the seconds until the soonest of the others frees up (None if none is held back)."""
    ready: list[Deployment] = []
    waits: list[float] = []
    for deployment in deployments:
        state = stats.get(deployment.id, EMPTY)
        if state.cooldown_until is not None and state.cooldown_until > now:
            waits.append(state.cooldown_until - now)
        elif over_limit(state.requests, state.tokens, rpm=deployment.rpm, tpm=deployment.tpm,
                        tokens=tokens):
            waits.append(window_end(now) - now)
        else:
            ready.append(deployment)
    return ready, (min(waits) if waits else None)
