"""Strategies are pure: fixed stats and a seeded RNG give a fixed, checkable distribution."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from gatewise.router.store import DeploymentStats
from gatewise.router.strategies import (
    availability,
    best_tier,
    headroom,
    latency_based,
    least_busy,
    simple_shuffle,
    strategy_named,
    usage_based,
)
from tests.router._helpers import deployment

N = 6000


def shares(pick: object, n: int = N) -> dict[str, float]:
    counts = Counter(pick() for _ in range(n))  # type: ignore[operator]
    return {k: v / n for k, v in counts.items()}


def test_simple_shuffle_follows_weight() -> None:
    ds = [deployment("a", weight=1), deployment("b", weight=2), deployment("c", weight=7)]
    rng = random.Random(7)
    got = shares(lambda: simple_shuffle(ds, {}, rng).id)
    assert got == pytest.approx({"a": 0.1, "b": 0.2, "c": 0.7}, abs=0.02)


def test_simple_shuffle_missing_weight_counts_as_one() -> None:
    ds = [deployment("a", weight=3), deployment("b")]
    rng = random.Random(1)
    got = shares(lambda: simple_shuffle(ds, {}, rng).id)
    assert got == pytest.approx({"a": 0.75, "b": 0.25}, abs=0.02)


def test_simple_shuffle_falls_back_to_rpm_then_tpm_then_uniform() -> None:
    rng = random.Random(2)
    by_rpm = [deployment("a", rpm=600, tpm=1), deployment("b", rpm=300, tpm=1000)]
    assert shares(lambda: simple_shuffle(by_rpm, {}, rng).id) == pytest.approx(
        {"a": 2 / 3, "b": 1 / 3}, abs=0.02)
    by_tpm = [deployment("a", tpm=1000), deployment("b", tpm=3000)]
    assert shares(lambda: simple_shuffle(by_tpm, {}, rng).id) == pytest.approx(
        {"a": 0.25, "b": 0.75}, abs=0.02)
    plain = [deployment("a"), deployment("b"), deployment("c")]
    assert shares(lambda: simple_shuffle(plain, {}, rng).id) == pytest.approx(
        {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, abs=0.02)


def test_simple_shuffle_missing_rpm_counts_as_the_mean() -> None:
    ds = [deployment("a", rpm=100), deployment("b", rpm=300), deployment("c")]
    rng = random.Random(3)
    got = shares(lambda: simple_shuffle(ds, {}, rng).id)
    assert got == pytest.approx({"a": 1 / 6, "b": 3 / 6, "c": 2 / 6}, abs=0.02)


def test_simple_shuffle_is_reproducible_with_a_seed() -> None:
    ds = [deployment("a"), deployment("b"), deployment("c")]
    first = [simple_shuffle(ds, {}, random.Random(42)).id for _ in range(1)]
    rng1, rng2 = random.Random(42), random.Random(42)
    assert [simple_shuffle(ds, {}, rng1).id for _ in range(50)] == [
        simple_shuffle(ds, {}, rng2).id for _ in range(50)]
    assert first


def test_least_busy_picks_fewest_in_flight_and_spreads_ties() -> None:
    ds = [deployment("a"), deployment("b"), deployment("c")]
    stats = {"a": DeploymentStats(in_flight=3), "b": DeploymentStats(in_flight=1),
             "c": DeploymentStats(in_flight=2)}
    rng = random.Random(0)
    assert {least_busy(ds, stats, rng).id for _ in range(50)} == {"b"}
    tied = {"a": DeploymentStats(in_flight=1), "b": DeploymentStats(in_flight=1),
            "c": DeploymentStats(in_flight=5)}
    got = shares(lambda: least_busy(ds, tied, rng).id, 2000)
    assert got == pytest.approx({"a": 0.5, "b": 0.5}, abs=0.04)


def test_latency_based_prefers_fastest_with_a_small_exploration_share() -> None:
    ds = [deployment("fast"), deployment("slow"), deployment("mid")]
    stats = {"fast": DeploymentStats(latencies=(0.1, 0.2)),
             "slow": DeploymentStats(latencies=(2.0, 3.0)),
             "mid": DeploymentStats(latencies=(0.5,))}
    rng = random.Random(5)
    got = shares(lambda: latency_based(ds, stats, rng).id)
    # 90% exploit + a third of the 10% exploration
    assert got["fast"] == pytest.approx(0.9 + 0.1 / 3, abs=0.02)
    assert got["slow"] == pytest.approx(0.1 / 3, abs=0.01)
    no_explore = shares(lambda: latency_based(ds, stats, rng, exploration=0.0).id, 500)
    assert no_explore == {"fast": 1.0}


def test_latency_based_tries_unmeasured_deployments_first() -> None:
    ds = [deployment("known"), deployment("new")]
    stats = {"known": DeploymentStats(latencies=(0.01,))}
    assert latency_based(ds, stats, random.Random(1), exploration=0.0).id == "new"


def test_latency_based_uses_time_to_first_token_for_streams() -> None:
    ds = [deployment("a"), deployment("b")]
    stats = {"a": DeploymentStats(latencies=(0.1,), ttfts=(0.9,)),
             "b": DeploymentStats(latencies=(0.5,), ttfts=(0.2,))}
    rng = random.Random(1)
    assert latency_based(ds, stats, rng, exploration=0.0).id == "a"
    assert latency_based(ds, stats, rng, stream=True, exploration=0.0).id == "b"


def test_usage_based_prefers_most_headroom() -> None:
    a, b = deployment("a", rpm=600), deployment("b", rpm=300, tpm=10_000)
    stats = {"a": DeploymentStats(requests=300), "b": DeploymentStats(requests=30, tokens=9000)}
    assert headroom(a, stats["a"]) == pytest.approx(0.5)
    assert headroom(b, stats["b"]) == pytest.approx(0.1)  # tpm is the tighter limit
    assert usage_based([a, b], stats, random.Random(0)).id == "a"
    assert headroom(deployment("free"), DeploymentStats(requests=10**6)) == 1.0


def test_usage_based_over_a_minute_splits_in_proportion_to_limits() -> None:
    a, b = deployment("a", rpm=600), deployment("b", rpm=300)
    used = Counter[str]()
    rng = random.Random(9)
    for _ in range(90):
        stats = {d: DeploymentStats(requests=used[d]) for d in ("a", "b")}
        used[usage_based([a, b], stats, rng).id] += 1
    assert used == {"a": 60, "b": 30}


def test_best_tier_uses_lower_order_first() -> None:
    ds = [deployment("a", order=2), deployment("b", order=1), deployment("c", order=1),
          deployment("d", order=3)]
    assert [d.id for d in best_tier(ds)] == ["b", "c"]
    assert [d.id for d in best_tier([ds[0], ds[3]])] == ["a"]


def test_availability_skips_cooling_and_limited_and_says_when_one_frees() -> None:
    ds = [deployment("cool"), deployment("full", rpm=2), deployment("tok", tpm=100),
          deployment("ok")]
    stats = {"cool": DeploymentStats(cooldown_until=25.0),
             "full": DeploymentStats(requests=2),
             "tok": DeploymentStats(tokens=90)}
    ready, wait = availability(ds, stats, 10.0, tokens=20)
    assert [d.id for d in ready] == ["ok"]
    assert wait == pytest.approx(15.0)  # the cooldown ends before the minute does
    ready, wait = availability(ds[1:3], stats, 50.0, tokens=20)
    assert ready == []
    assert wait == pytest.approx(10.0)  # the minute window ends at 60
    ready, wait = availability(ds[2:3], stats, 50.0, tokens=5)
    assert [d.id for d in ready] == ["tok"] and wait is None


def test_strategy_names_and_aliases() -> None:
    assert strategy_named("least-busy") is least_busy
    assert strategy_named("usage-based-routing-v2") is usage_based
    assert strategy_named("latency-based-routing") is latency_based
    with pytest.raises(ValueError, match="simple-shuffle"):
        strategy_named("round-robin-ish")
