"""``/mistral/*`` with virtual keys, end to end (the real CLI, the fake Mistral server):
a call with a usage is booked at its cost on the key and in the ledger, one without at 0;
a key's budget and rpm hold there too; a key with a model list cannot use it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gatewise import get_model_info
from tests.fake_mistral import FakeMistral
from tests.proxy._server import Proxy, run_proxy_with
from tests.proxy.conftest import HELLO

MASTER = "sk-master-passthrough-spend"
ADMIN = {"authorization": f"Bearer {MASTER}"}
AGENT = {"agent_id": "ag-1", "messages": HELLO}


@pytest.fixture
def proxy(fake_mistral: FakeMistral, tmp_path: Path) -> Iterator[Proxy]:
    config = {"model_list": [{"model_name": "small", "litellm_params": {
        "model": "mistral/mistral-small-latest", "api_key": "test-key",
        "api_base": fake_mistral.base_url}}],
        "general_settings": {"master_key": MASTER, "proxy_batch_write_at": 0.2}}
    with run_proxy_with(config, tmp_path) as server:
        yield server


def manage(proxy: Proxy, path: str, body: dict[str, Any] | None = None, **query: str) -> Any:
    if body is None:
        answer = httpx.get(proxy.url + path, headers=ADMIN, params=query, timeout=10)
    else:
        answer = httpx.post(proxy.url + path, headers=ADMIN, json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def agent(proxy: Proxy, key: str) -> httpx.Response:
    return httpx.post(proxy.url + "/mistral/v1/agents/completions", json=AGENT, timeout=10,
                      headers={"authorization": f"Bearer {key}"})


def rows_of(proxy: Proxy, token: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15  # the ledger writes in batches, off the request path
    while True:
        rows: list[dict[str, Any]] = manage(proxy, "/spend/logs", api_key=token,
                                            summarize="false")
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_a_call_with_a_usage_is_booked_at_its_cost(proxy: Proxy) -> None:
    made = manage(proxy, "/key/generate", {"key_alias": "agents", "max_budget": 10.0})
    answer = agent(proxy, made["key"])
    assert answer.status_code == 200, answer.text
    usage = answer.json()["usage"]
    info = get_model_info("mistral/mistral-small-latest")
    assert info.input_cost_per_token and info.output_cost_per_token
    cost = (usage["prompt_tokens"] * info.input_cost_per_token
            + usage["completion_tokens"] * info.output_cost_per_token)
    listed = httpx.get(proxy.url + "/mistral/v1/files", timeout=10,
                       headers={"authorization": f"Bearer {made['key']}"})
    assert listed.status_code == 200, listed.text

    rows = rows_of(proxy, made["token"], 2)
    assert len(rows) == 2
    by_cost = sorted(rows, key=lambda r: r["spend"])
    assert by_cost[0]["spend"] == 0 and by_cost[1]["spend"] == pytest.approx(cost)
    booked = by_cost[1]
    assert booked["call_type"] == "pass_through_endpoint"
    assert booked["total_tokens"] == usage["total_tokens"]
    assert booked["request_id"] == answer.headers["x-gatewise-call-id"]
    info_answer = manage(proxy, "/key/info", key=made["key"])["info"]
    assert info_answer["spend"] == pytest.approx(cost)


def test_budgets_and_limits_hold_on_the_pass_through(proxy: Proxy) -> None:
    tiny = manage(proxy, "/key/generate", {"max_budget": 1e-9})
    assert agent(proxy, tiny["key"]).status_code == 200  # its first call spends the budget
    rows_of(proxy, tiny["token"], 1)
    deadline = time.monotonic() + 15
    while (refused := agent(proxy, tiny["key"])).status_code == 200:
        assert time.monotonic() < deadline, "the spent budget never refused a call"
        time.sleep(0.2)
    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "budget_exceeded"

    limited = manage(proxy, "/key/generate", {"rpm_limit": 1})["key"]
    assert agent(proxy, limited).status_code == 200
    again = agent(proxy, limited)
    assert again.status_code == 429 and "rate limit" in again.json()["error"]["message"]


def test_a_key_with_a_model_list_cannot_use_it(proxy: Proxy,
                                               fake_mistral: FakeMistral) -> None:
    only_small = manage(proxy, "/key/generate", {"models": ["small"]})["key"]
    before = len(fake_mistral.requests)
    refused = agent(proxy, only_small)
    assert refused.status_code == 401
    assert "/mistral" in refused.json()["error"]["message"]
    assert len(fake_mistral.requests) == before  # nothing reached Mistral
