"""A LiteLLM management script, run against the real CLI: the bodies LiteLLM's request
models send (every field, the unsupported ones empty), its paths (``/key/{key}/regenerate``
too), its durations, and its response headers read by the ``openai`` package -- on SQLite
and on PostgreSQL, with the fake Mistral server upstream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.fake_mistral import FakeMistral
from tests.management._litellm import (
    LITELLM_GENERATE_KEY,
    LITELLM_NEW_TEAM,
    LITELLM_NEW_USER,
)
from tests.proxy._server import Proxy, client, run_proxy_with
from tests.proxy.conftest import HELLO

MASTER = "sk-master-litellm-scripts"
ADMIN = {"authorization": f"Bearer {MASTER}"}
EMPTY_UNSUPPORTED = {"tags": [], "guardrails": [], "permissions": {}, "aliases": {},
                     "config": {}, "model_max_budget": {}, "soft_budget": None,
                     "allowed_cache_controls": []}


@pytest.fixture
def proxy(database_url: str, fake_mistral: FakeMistral, tmp_path: Path) -> Iterator[Proxy]:
    config = {"model_list": [{"model_name": "small", "litellm_params": {
                  "model": "mistral/mistral-small-latest", "api_key": "test-key",
                  "api_base": fake_mistral.base_url}}],
              "general_settings": {"master_key": MASTER, "database_url": database_url,
                                   "proxy_batch_write_at": 0.2}}
    with run_proxy_with(config, tmp_path) as server:
        yield server


def post(proxy: Proxy, path: str, body: dict[str, Any] | None = None) -> Any:
    """As LiteLLM's scripts call: ``requests.post(url, headers=..., json=body)``; a body
    of None sends none at all."""
    answer = httpx.post(proxy.url + path, headers=ADMIN, json=body, timeout=10)
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()


def get(proxy: Proxy, path: str, **query: str) -> Any:
    answer = httpx.get(proxy.url + path, headers=ADMIN, params=query, timeout=10)
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()


def chat(proxy: Proxy, key: str) -> tuple[str, httpx.Headers]:
    """A chat call with the ``openai`` package: the answer's text and its headers."""
    raw = client(proxy, key).chat.completions.with_raw_response.create(
        model="small", messages=HELLO)
    return raw.parse().choices[0].message.content or "", raw.headers


def refused(proxy: Proxy, key: str) -> bool:
    try:
        chat(proxy, key)
    except openai.AuthenticationError:
        return True
    return False


def eventually(check: Any, timeout: float = 15.0) -> Any:
    """``check()``'s first truthy value (the ledger writes in batches, off the request
    path)."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.2)
    return found


def test_a_litellm_management_script_works_as_on_litellm(proxy: Proxy) -> None:
    team = post(proxy, "/team/new", {**LITELLM_NEW_TEAM, "team_id": "eng",
                                     "team_alias": "Engineering", "max_budget": 10.0,
                                     "budget_duration": "monthly"})
    assert team["team_id"] == "eng" and team["budget_duration"] == "monthly"
    user = post(proxy, "/user/new", {**LITELLM_NEW_USER, "user_id": "ann",
                                     "user_email": "ann@example.com", "teams": ["eng"]})
    assert user["user_id"] == "ann" and user["key"].startswith("sk-")

    made = post(proxy, "/key/generate", {
        **LITELLM_GENERATE_KEY, "key_alias": "ann-laptop", "team_id": "eng",
        "user_id": "ann", "max_budget": 1.0, "budget_duration": "2w", "duration": "weekly",
        "metadata": {"purpose": "script"}})
    key = made["key"]
    info = get(proxy, "/key/info", key=key)["info"]
    assert info["key_alias"] == "ann-laptop" and info["max_budget"] == 1.0
    assert info["budget_duration"] == "2w" and info["team_id"] == "eng"
    expires = datetime.fromisoformat(info["expires"])
    assert timedelta(days=6.9) < expires - datetime.now(UTC) <= timedelta(days=7)

    updated = post(proxy, "/key/update", {"key": key, "max_budget": 2.0,
                                          "budget_duration": "daily", **EMPTY_UNSUPPORTED})
    assert updated["max_budget"] == 2.0 and updated["budget_duration"] == "daily"

    fresh = post(proxy, f"/key/{key}/regenerate")  # LiteLLM's path form, no body
    new_key = fresh["key"]
    assert new_key != key and fresh["token"] != made["token"]
    assert refused(proxy, key)

    # Calls with the openai package, reading LiteLLM's headers.
    text, first = chat(proxy, new_key)
    assert text
    cost = float(first["x-litellm-response-cost"])
    assert cost > 0 and first["x-litellm-response-cost"] == first["x-gatewise-response-cost"]
    assert float(first["x-litellm-key-spend"]) == 0.0
    assert float(first["x-litellm-key-max-budget"]) == 2.0
    _, second = chat(proxy, new_key)
    assert float(second["x-litellm-key-spend"]) == pytest.approx(cost)

    # The spend, in the ledger and on the key.
    def logged() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = get(proxy, "/spend/logs", api_key=new_key,
                                          summarize="false")
        return found if len(found) == 2 else None

    def charged() -> dict[str, Any] | None:
        found: dict[str, Any] = get(proxy, "/key/info", key=new_key)["info"]
        return found if found["spend"] > 0 else None

    rows = eventually(logged)
    assert {r["api_key"] for r in rows} == {fresh["token"]}
    assert {r["team_id"] for r in rows} == {"eng"}
    spent = sum(r["spend"] for r in rows)
    assert spent == pytest.approx(cost + float(second["x-litellm-response-cost"]))
    info = eventually(charged)
    assert info["spend"] == pytest.approx(spent)

    listed = get(proxy, "/key/list", return_full_object="true", include_team_keys="false",
                 organization_id="", team_id="eng")
    assert listed["total_count"] == 1 and listed["keys"][0]["token"] == fresh["token"]
    assert listed["keys"][0]["key_alias"] == "ann-laptop"

    assert post(proxy, "/key/block", {"key": new_key})["blocked"] is True
    assert refused(proxy, new_key)
    assert post(proxy, "/key/unblock", {"key": new_key})["blocked"] is False
    assert chat(proxy, new_key)[0]
    assert post(proxy, "/key/delete", {"keys": [new_key]}) == {"deleted_keys": [new_key]}
    assert refused(proxy, new_key)

    output = proxy.output()
    assert key not in output and new_key not in output
