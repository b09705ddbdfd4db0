"""``/metrics`` in process: bounded labels (10,000 unknown model names add no label value),
who may scrape, the metrics off, the remaining budgets of keys and teams, the router's
cooldowns, a sink that fails."""

from __future__ import annotations

import random
import string
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gatewise.proxy.app import ProxyApp
from tests._services import Redis
from tests.access._keys import add_key, add_team
from tests.fake_mistral import CutStream, FakeMistral, Status
from tests.proxy._metrics import Samples, label_values, parse, value
from tests.proxy.conftest import HELLO, call, make_app

MASTER = "sk-master-of-metrics"


def demo_config(**settings: Any) -> dict[str, Any]:
    return {"model_list": [
        {"model_name": "demo", "params": {"model": "mistral/mistral-small-latest",
                                          "mock_response": "hi there"}},
        {"model_name": "embed", "params": {"model": "mistral/mistral-embed",
                                           "mock_response": [0.5, 0.5]},
         "model_info": {"mode": "embedding"}}],
        "litellm_settings": {"callbacks": ["prometheus"], **settings}}


@pytest.fixture
async def app() -> AsyncIterator[ProxyApp]:
    app = make_app(demo_config())
    await app.state.start()
    yield app
    await app.state.aclose()


async def metrics(app: ProxyApp, key: str | None = None) -> Samples:
    answer = await call(app, "GET", "/metrics",
                        headers={"authorization": f"Bearer {key}"} if key else None)
    assert answer.status == 200, answer.body
    return parse(answer.body.decode())


def _name(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits + "-_./:", k=24))


async def test_unknown_model_names_add_no_label_values(app: ProxyApp) -> None:
    rng = random.Random(17)
    # Every kind of answer once, so that every series that can exist does.
    assert (await call(app, "POST", "/chat/completions",
                       {"model": "demo", "messages": HELLO})).status == 200
    assert (await call(app, "POST", "/embeddings", {"model": "embed", "input": "x"})).status == 200
    for path in ("/chat/completions", "/embeddings", "/completions"):
        assert (await call(app, "POST", path, {"model": _name(rng), "messages": HELLO,
                                               "input": "x", "prompt": "x"})).status == 404
    before = label_values(await metrics(app))
    for i in range(10_000):
        path = ("/chat/completions", "/embeddings", "/completions")[i % 3]
        answer = await call(app, "POST", path, {"model": _name(rng), "messages": HELLO,
                                                "input": "x", "prompt": "x"})
        assert answer.status == 404
    after = await metrics(app)
    assert label_values(after) == before
    assert value(after, "gatewise_requests_total", model_group="") == 10_003
    assert value(after, "gatewise_request_failures_total", model_group="",
                 error_type="invalid_request_error") == 10_003


async def test_metrics_are_open_unless_auth_is_required() -> None:
    app = make_app({**demo_config(require_auth_for_metrics_endpoint=True),
                    "general_settings": {"master_key": MASTER}})
    await app.state.start()
    try:
        assert (await call(app, "GET", "/metrics")).status == 401
        assert (await call(app, "GET", "/metrics",
                           headers={"authorization": "Bearer sk-wrong"})).status == 401
        assert "gatewise_deployment_state" in await metrics(app, MASTER)
    finally:
        await app.state.aclose()
    open_app = make_app({**demo_config(), "general_settings": {"master_key": MASTER}})
    await open_app.state.start()
    try:
        assert "gatewise_deployment_state" in await metrics(open_app)  # no key needed
        # The API itself still wants the key.
        assert (await call(open_app, "POST", "/chat/completions",
                           {"model": "demo", "messages": HELLO})).status == 401
    finally:
        await open_app.state.aclose()


async def test_metrics_off_is_a_404() -> None:
    app = make_app({"model_list": demo_config()["model_list"]})
    await app.state.start()
    try:
        answer = await call(app, "GET", "/metrics")
        assert answer.status == 404 and b"prometheus" in answer.body
        assert app.state.telemetry is None
    finally:
        await app.state.aclose()


async def test_a_failing_sink_is_counted_and_the_request_served(app: ProxyApp) -> None:
    class Broken:
        def emit(self, record: Any) -> None:
            raise RuntimeError("a sink bug")

        async def aclose(self) -> None:
            return None

    app.state.sinks.add(Broken())  # type: ignore[arg-type]
    assert (await call(app, "POST", "/chat/completions",
                       {"model": "demo", "messages": HELLO})).status == 200
    samples = await metrics(app)
    assert value(samples, "gatewise_sink_errors_total") == 1
    assert value(samples, "gatewise_requests_total", model_group="demo") == 1


async def test_budgets_limits_and_cooldowns(fake_mistral: FakeMistral, tmp_path: Path) -> None:
    params = {"model": "mistral/mistral-small-latest", "api_key": "test-key",
              "api_base": fake_mistral.base_url}
    app = make_app({
        "model_list": [
            {"model_name": "small", "params": {**params, "rpm": 10},
             "model_info": {"id": "a"}},
            {"model_name": "small", "params": {**params, "tpm": 100_000},
             "model_info": {"id": "b"}}],
        "router_settings": {"cooldown_time": 60, "num_retries": 1, "seed": 2},
        "litellm_settings": {"callbacks": ["prometheus"]},
        "general_settings": {"master_key": MASTER,
                             "database_url": f"sqlite:///{tmp_path / 'g.db'}"}})
    await app.state.start()
    try:
        db = app.state.db
        assert db is not None
        await add_team(db, "t-rich", max_budget=5.0, team_alias="rich")
        key = await add_key(db, key_alias="budgeted", max_budget=1.0, team_id="t-rich")
        free = await add_key(db, key_alias="free")
        auth = {"authorization": f"Bearer {key}"}
        for who in (auth, {"authorization": f"Bearer {free}"}):
            answer = await call(app, "POST", "/chat/completions",
                                {"model": "small", "messages": HELLO}, headers=who)
            assert answer.status == 200, answer.body
        cost = float(answer.headers["x-gatewise-response-cost"])
        fake_mistral.script(Status(429))  # benches the deployment that got it, at once
        assert (await call(app, "POST", "/chat/completions",
                           {"model": "small", "messages": HELLO}, headers=auth)).status == 200
        samples = await metrics(app)
        spent = 2 * cost
        [(labels, left)] = samples["gatewise_key_remaining_budget_usd"]
        assert labels["key_alias"] == "budgeted" and left == pytest.approx(1.0 - spent)
        [(labels, left)] = samples["gatewise_team_remaining_budget_usd"]
        assert labels == {"team": "t-rich", "team_alias": "rich"}
        assert left == pytest.approx(5.0 - spent)
        assert value(samples, "gatewise_deployment_cooldowns_total") == 1
        assert value(samples, "gatewise_deployment_state", state="cooling_down") == 1
        assert value(samples, "gatewise_deployment_state", state="healthy") == 1
        assert value(samples, "gatewise_deployment_cooldown_remaining_seconds") > 50
        used_a = value(samples, "gatewise_deployment_attempts_total", deployment="a")
        assert value(samples, "gatewise_deployment_remaining_requests",
                     deployment="a") == 10 - used_a
        assert "b" not in {labels["deployment"] for labels, _ in
                           samples["gatewise_deployment_remaining_requests"]}
        assert value(samples, "gatewise_deployment_remaining_tokens", deployment="b") > 0
        assert value(samples, "gatewise_key_remaining_budget_usd", key_alias="free") == 0
    finally:
        await app.state.aclose()


async def test_shared_store_figures(redis: Redis) -> None:
    """With the live state in Redis: reachable, its heartbeat's round trip, its errors."""
    from redis import Redis as Client

    with Client(port=redis.port) as client:
        client.flushall()
    app = make_app({**demo_config(), "router_settings": {"redis_url": redis.url}})
    await app.state.start()
    try:
        assert (await call(app, "POST", "/chat/completions",
                           {"model": "demo", "messages": HELLO})).status == 200
        samples = await metrics(app)
        assert value(samples, "gatewise_shared_state_up") == 1
        assert value(samples, "gatewise_shared_state_latency_seconds") > 0
        assert value(samples, "gatewise_shared_state_errors_total") == 0
        assert value(samples, "gatewise_deployment_state", deployment="demo#0",
                     state="healthy") == 1
        assert app.state.shared is not None
        link = app.state.shared.store.link
        assert link.pipe is not None
        link.lost(link.pipe, ConnectionResetError("cut for the test"))
        samples = await metrics(app)
        assert value(samples, "gatewise_shared_state_up") == 0
        assert value(samples, "gatewise_shared_state_errors_total") == 1
    finally:
        await app.state.aclose()
    # Without a shared store, none of its series.
    plain = make_app(demo_config())
    await plain.state.start()
    try:
        assert "gatewise_shared_state_up" not in await metrics(plain)
    finally:
        await plain.state.aclose()


async def test_a_stream_that_breaks_counts_as_a_failure(fake_mistral: FakeMistral) -> None:
    app = make_app({"model_list": [{"model_name": "small", "params": {
        "model": "mistral/mistral-small-latest", "api_key": "test-key",
        "api_base": fake_mistral.base_url}}],
        "litellm_settings": {"callbacks": ["prometheus"]}})
    await app.state.start()
    try:
        fake_mistral.script(CutStream(after_events=3))
        answer = await call(app, "POST", "/chat/completions",
                            {"model": "small", "messages": HELLO, "stream": True})
        assert answer.status == 200 and b'"error"' in answer.chunks[-1]
        samples = await metrics(app)
    finally:
        await app.state.aclose()
    assert value(samples, "gatewise_request_failures_total", model_group="small",
                 status_class="5xx", error_type="api_connection_error") == 1
    assert value(samples, "gatewise_requests_total", status_class="2xx") == 0


async def test_tokens_and_spend_by_key_alias_and_team_alias(tmp_path: Path) -> None:
    """The team's alias sits next to the key's on the tokens and spend series, taken from
    the key's team at admission (no database read on the request's path)."""
    app = make_app({**demo_config(), "general_settings": {
        "master_key": MASTER, "database_url": f"sqlite:///{tmp_path / 'g.db'}"}})
    await app.state.start()
    seen: list[Any] = []

    class Records:
        def emit(self, record: Any) -> None:
            seen.append(record)

        async def aclose(self) -> None:
            return None

    app.state.sinks.add(Records())  # type: ignore[arg-type]
    try:
        db = app.state.db
        assert db is not None
        await add_team(db, "t-blue", team_alias="blue")
        teamed = await add_key(db, key_alias="k-blue", team_id="t-blue")
        alone = await add_key(db, key_alias="k-alone")
        for key in (teamed, alone, MASTER):
            answer = await call(app, "POST", "/chat/completions",
                                {"model": "demo", "messages": HELLO},
                                headers={"authorization": f"Bearer {key}"})
            assert answer.status == 200, answer.body
        samples = await metrics(app)
    finally:
        await app.state.aclose()
    assert [r.team_alias for r in seen] == ["blue", None, None]
    assert [r.team_id for r in seen] == ["t-blue", None, None]
    tokens = {(labels["key_alias"], labels["team"], labels["team_alias"])
              for labels, _ in samples["gatewise_input_tokens_total"]}
    assert tokens == {("k-blue", "t-blue", "blue"), ("k-alone", "", ""), ("", "", "")}
    spend = {labels["team_alias"] for labels, _ in samples["gatewise_spend_usd_total"]}
    assert "blue" in spend
