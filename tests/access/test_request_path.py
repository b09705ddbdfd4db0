"""The access layer on the request path, against a real database on both backends: who may
call, which models, under which limits and budgets; the headers that say so; one record
per request; changes that take effect at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gatewise.proxy.app import ProxyApp
from gatewise.proxy.record import RequestRecord
from tests.access._keys import add_customer, add_key, add_team, add_user, update_key
from tests.fake_mistral import Delay, FakeMistral, Status
from tests.proxy.conftest import HELLO, Answer, Recorder, call, make_app

MASTER = "sk-master-access"



@pytest.fixture
async def app(database_url: str, fake_mistral: FakeMistral) -> AsyncIterator[ProxyApp]:
    proxy = make_app({
        "model_list": [
            {"model_name": "small", "params": {"model": "mistral/mistral-small-latest",
                                               "api_key": "test-key",
                                               "api_base": fake_mistral.base_url}},
            {"model_name": "large", "params": {"model": "mistral/mistral-large-latest",
                                               "api_key": "test-key",
                                               "api_base": fake_mistral.base_url}},
            {"model_name": "embed", "params": {"model": "mistral/mistral-embed",
                                               "api_key": "test-key",
                                               "api_base": fake_mistral.base_url}},
        ],
        "router_settings": {"retry_backoff": 0.01},
        "general_settings": {"master_key": MASTER, "database_url": database_url}})
    await proxy.state.start()
    assert proxy.state.db is not None
    proxy.state.sinks.add(Recorder())
    yield proxy
    await proxy.state.aclose()


def records(app: ProxyApp) -> list[RequestRecord]:
    recorder = app.state.sinks.sinks[-1]
    assert isinstance(recorder, Recorder)
    return recorder.records


async def chat(app: ProxyApp, key: str, model: str = "small", **body: Any) -> Answer:
    return await call(app, "POST", "/v1/chat/completions",
                      {"model": model, "messages": HELLO, **body},
                      headers={"Authorization": f"Bearer {key}"})


async def test_virtual_keys_and_the_master_key_work_unknown_ones_do_not(app: ProxyApp) -> None:
    assert app.state.db is not None
    key = await add_key(app.state.db, key_alias="app-1")
    assert (await chat(app, MASTER)).status == 200
    answer = await chat(app, key)
    assert answer.status == 200, answer.body
    refused = await chat(app, "sk-not-a-key")
    assert refused.status == 401 and refused.error()["code"] == "invalid_api_key"
    for header in ("x-api-key", "api-key"):  # Anthropic- and Azure-style clients
        other = await call(app, "POST", "/v1/chat/completions",
                           {"model": "small", "messages": HELLO}, headers={header: key})
        assert other.status == 200, header
    done = records(app)
    assert [r.status for r in done] == [200, 200, 200, 200]
    assert done[1].key_alias == "app-1" and done[1].key_id is not None
    assert done[0].key_id is None  # the master key


async def test_a_cached_key_costs_no_database_round_trip(app: ProxyApp) -> None:
    assert app.state.db is not None
    key = await add_key(app.state.db)
    source = app.state.access.source
    calls = 0
    original = source.key  # type: ignore[union-attr]

    async def counting(token: str) -> Any:
        nonlocal calls
        calls += 1
        return await original(token)

    source.key = counting  # type: ignore[union-attr,method-assign]
    answers = await asyncio.gather(*(chat(app, key) for _ in range(20)))
    assert {a.status for a in answers} == {200}
    for _ in range(5):
        assert (await chat(app, key)).status == 200
    assert calls == 1  # concurrent misses coalesced, then all from memory
    for _ in range(3):
        await chat(app, "sk-unknown-one")
    assert calls == 2  # an unknown key is remembered as unknown for a while


async def test_expired_and_blocked_keys_are_refused(app: ProxyApp) -> None:
    assert app.state.db is not None
    expired = await add_key(app.state.db, expires=datetime.now(UTC) - timedelta(seconds=1))
    answer = await chat(app, expired)
    assert answer.status == 401 and "Expired Key" in answer.error()["message"]
    blocked = await add_key(app.state.db, blocked=True)
    assert (await chat(app, blocked)).status == 401
    await add_team(app.state.db, "t-blocked", blocked=True)
    in_team = await add_key(app.state.db, team_id="t-blocked")
    answer = await chat(app, in_team)
    assert answer.status == 401 and "team is blocked" in answer.error()["message"]


async def test_model_lists_of_key_team_and_user_all_apply(app: ProxyApp) -> None:
    assert app.state.db is not None
    only_small = await add_key(app.state.db, models=["small"])
    assert (await chat(app, only_small)).status == 200
    answer = await chat(app, only_small, model="large")
    error = answer.error()
    assert answer.status == 401 and error["type"] == "key_model_access_denied"
    assert "small" in error["message"] and error["param"] == "model"
    await add_team(app.state.db, "t-large", models=["large"])
    team_key = await add_key(app.state.db, team_id="t-large")
    assert (await chat(app, team_key, model="large")).status == 200
    assert (await chat(app, team_key, model="small")).status == 401
    everything = await add_key(app.state.db, models=["all-proxy-models"])
    assert (await chat(app, everything, model="large")).status == 200


async def test_rpm_limit_answers_429_with_its_headers(app: ProxyApp) -> None:
    assert app.state.db is not None
    key = await add_key(app.state.db, rpm_limit=2)
    first = await chat(app, key)
    assert first.status == 200
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert "x-ratelimit-limit-tokens" not in first.headers
    assert (await chat(app, key)).status == 200
    refused = await chat(app, key)
    assert refused.status == 429
    assert int(refused.headers["retry-after"]) >= 0
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-limit-requests"] == "2"
    assert refused.error()["code"] == "rate_limit_exceeded"
    assert records(app)[-1].status == 429


async def test_ratelimit_limit_headers_name_the_smallest_limit_over_key_and_team(
        app: ProxyApp) -> None:
    assert app.state.db is not None
    await add_team(app.state.db, "t-slow", rpm_limit=3, tpm_limit=50_000)
    key = await add_key(app.state.db, team_id="t-slow", rpm_limit=10, tpm_limit=90_000)
    answer = await chat(app, key)
    assert answer.status == 200
    assert answer.headers["x-ratelimit-limit-requests"] == "3"
    assert answer.headers["x-ratelimit-limit-tokens"] == "50000"
    assert answer.headers["x-ratelimit-remaining-requests"] == "2"
    assert int(answer.headers["x-ratelimit-remaining-tokens"]) < 50_000


async def test_parallel_limit_holds_under_concurrency(app: ProxyApp,
                                                     fake_mistral: FakeMistral) -> None:
    assert app.state.db is not None
    key = await add_key(app.state.db, max_parallel_requests=2)
    fake_mistral.script(*[Delay(0.3)] * 10)
    answers = await asyncio.gather(*(chat(app, key) for _ in range(10)))
    statuses = sorted(a.status for a in answers)
    assert statuses.count(200) == 2 and statuses.count(429) == 8


async def test_budgets_hold_under_concurrency(app: ProxyApp, fake_mistral: FakeMistral) -> None:
    """50 concurrent requests on a key whose budget fits about 10: about 10 admitted, and
    the spend ends within 20 % of the budget."""
    assert app.state.db is not None
    probe = await chat(app, MASTER)
    cost = float(probe.headers["x-gatewise-response-cost"])
    assert cost > 0
    key = await add_key(app.state.db, max_budget=cost * 10)
    assert (await chat(app, key)).status == 200  # the estimate learns what answers cost
    fake_mistral.script(*[Delay(0.05)] * 60)
    answers = await asyncio.gather(*(chat(app, key) for _ in range(50)))
    served = [a for a in answers if a.status == 200]
    refused = [a for a in answers if a.status != 200]
    assert 7 <= len(served) <= 10, len(served)
    assert {a.status for a in refused} == {400}
    assert refused[0].error()["type"] == "budget_exceeded"
    spent = sum(r.cost for r in records(app) if r.key_id is not None and r.status == 200)
    assert spent <= cost * 10 * 1.2
    last = served[-1].headers
    assert float(last["x-gatewise-key-max-budget"]) == pytest.approx(cost * 10)
    assert float(last["x-gatewise-key-spend"]) <= cost * 10 * 1.2


async def test_team_and_end_user_budgets_apply_too(app: ProxyApp) -> None:
    assert app.state.db is not None
    await add_team(app.state.db, "t-poor", max_budget=0.0)
    key = await add_key(app.state.db, team_id="t-poor")
    answer = await chat(app, key)
    assert answer.status == 400 and "team" in answer.error()["message"]
    await add_user(app.state.db, "u-fast", rpm_limit=1)
    user_key = await add_key(app.state.db, user_id="u-fast")
    assert (await chat(app, user_key)).status == 200
    assert (await chat(app, user_key)).status == 429
    await add_customer(app.state.db, "end-user-9", max_budget=0.0)
    free_key = await add_key(app.state.db)
    assert (await chat(app, free_key, user="someone-else")).status == 200
    answer = await chat(app, free_key, user="end-user-9")
    assert answer.status == 400 and "end user" in answer.error()["message"]
    assert records(app)[-1].end_user == "end-user-9"


async def test_a_change_takes_effect_at_once(app: ProxyApp) -> None:
    assert app.state.db is not None
    key = await add_key(app.state.db)
    assert (await chat(app, key)).status == 200
    await update_key(app.state.db, key, blocked=True)  # as another process would
    deadline = asyncio.get_running_loop().time() + 10
    while (await chat(app, key)).status == 200:
        assert asyncio.get_running_loop().time() < deadline, "the change was never seen"
        await asyncio.sleep(0.1)
    assert (await chat(app, key)).status == 401


async def test_streams_are_recorded_with_their_usage(app: ProxyApp) -> None:
    assert app.state.db is not None
    key = await add_key(app.state.db, max_budget=100.0)
    answer = await chat(app, key, stream=True)
    assert answer.status == 200 and answer.body.endswith(b"data: [DONE]\n\n")
    record = records(app)[-1]
    assert record.stream and record.status == 200 and not record.usage_estimated
    assert record.completion_tokens > 0 and record.cost > 0 and record.ttft is not None
    assert "x-gatewise-key-spend" in answer.headers


async def test_litellm_headers_say_the_keys_spend_budget_and_the_answers_cost(
        app: ProxyApp) -> None:
    """LiteLLM's clients read ``x-litellm-key-spend`` (the key's spend before the request),
    ``x-litellm-key-max-budget`` and ``x-litellm-response-cost``."""
    assert app.state.db is not None
    key = await add_key(app.state.db, max_budget=2.5, spend=0.25)
    first = (await chat(app, key)).headers
    cost = first["x-litellm-response-cost"]
    assert cost == first["x-gatewise-response-cost"] and float(cost) > 0
    assert float(first["x-litellm-key-spend"]) == pytest.approx(0.25)
    assert first["x-litellm-key-max-budget"] == "2.5"
    second = (await chat(app, key)).headers
    assert float(second["x-litellm-key-spend"]) == pytest.approx(0.25 + float(cost))
    assert float(second["x-gatewise-key-spend"]) == pytest.approx(0.25 + 2 * float(cost))
    # A stream: the spend and budget are known before it starts, its cost is not.
    stream = (await chat(app, key, stream=True)).headers
    assert float(stream["x-litellm-key-spend"]) == pytest.approx(0.25 + 2 * float(cost))
    assert stream["x-litellm-key-max-budget"] == "2.5"
    assert "x-litellm-response-cost" not in stream
    # A key with no budget nor limits: its spend as cached, no budget header.
    free = await add_key(app.state.db, spend=1.5)
    headers = (await chat(app, free)).headers
    assert headers["x-litellm-key-spend"] == "1.5" and "x-litellm-key-max-budget" not in headers
    assert "x-litellm-response-cost" in headers
    embedded = await call(app, "POST", "/v1/embeddings", {"model": "embed", "input": "hi"},
                          headers={"Authorization": f"Bearer {free}"})
    assert embedded.status == 200 and embedded.headers["x-litellm-key-spend"] == "1.5"
    assert embedded.headers["x-litellm-response-cost"] == \
        embedded.headers["x-gatewise-response-cost"]
    # The master key is no virtual key: the answer's cost only.
    master = (await chat(app, MASTER)).headers
    assert "x-litellm-response-cost" in master
    assert not any(h.startswith("x-litellm-key-") for h in master)


async def test_a_keys_answer_costs_what_the_same_answer_costs_the_master_key(
        app: ProxyApp) -> None:
    """A key's answer is priced once, by its settlement; the header says the same price
    the master key's answer (priced directly) does."""
    assert app.state.db is not None
    key = await add_key(app.state.db, max_budget=5.0)
    keyed, master = await chat(app, key), await chat(app, MASTER)
    assert keyed.json()["usage"] == master.json()["usage"]
    cost = keyed.headers["x-gatewise-response-cost"]
    assert cost == master.headers["x-gatewise-response-cost"] and float(cost) > 0
    assert records(app)[-2].cost == records(app)[-1].cost == pytest.approx(float(cost))


async def test_failures_are_recorded_and_cost_nothing(app: ProxyApp,
                                                      fake_mistral: FakeMistral) -> None:
    assert app.state.db is not None
    key = await add_key(app.state.db, max_parallel_requests=1, max_budget=1.0)
    fake_mistral.script(*[Status(500)] * 5)
    answer = await chat(app, key)
    assert answer.status == 500
    record = records(app)[-1]
    assert record.status == 500 and record.cost == 0 and record.error_type is not None
    assert (await chat(app, key)).status == 200  # its parallel slot was given back
    bad = await chat(app, key, model="no-such-model")
    assert bad.status == 404 and records(app)[-1].model_group is None


async def test_a_key_lists_only_the_models_it_may_call(app: ProxyApp) -> None:
    assert app.state.db is not None
    key = await add_key(app.state.db, models=["small"])
    auth = {"Authorization": f"Bearer {key}"}
    listed = await call(app, "GET", "/v1/models", headers=auth)
    assert [m["id"] for m in listed.json()["data"]] == ["small"]
    assert (await call(app, "GET", "/v1/models/large", headers=auth)).status == 404
    assert (await call(app, "GET", "/v1/models/small", headers=auth)).status == 200
    every = await call(app, "GET", "/v1/models", headers={"Authorization": f"Bearer {MASTER}"})
    assert {m["id"] for m in every.json()["data"]} == {"small", "large", "embed"}
