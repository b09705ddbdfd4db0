"""Virtual keys end to end, as a team uses them: the real CLI in front of the fake Mistral
server, keys made through the management API, and the ``openai`` package (sync, async,
streaming) calling with them -- on SQLite and on PostgreSQL.  Refusals come back as the
``openai`` package's typed errors; spend lands in the ledger and in ``/key/info``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.fake_mistral import FakeMistral
from tests.proxy._server import Proxy, client, inside_a_window, run_proxy_with
from tests.proxy.conftest import HELLO

MASTER = "sk-master-keys-e2e"
ADMIN = {"authorization": f"Bearer {MASTER}"}


@pytest.fixture
def proxy(database_url: str, fake_mistral: FakeMistral, tmp_path: Path) -> Iterator[Proxy]:
    def entry(name: str, model: str) -> dict[str, Any]:
        return {"model_name": name, "litellm_params": {
            "model": model, "api_key": "test-key", "api_base": fake_mistral.base_url}}

    config = {"model_list": [entry("small", "mistral/mistral-small-latest"),
                             entry("large", "mistral/mistral-large-latest")],
              "general_settings": {"master_key": MASTER, "database_url": database_url,
                                   "proxy_batch_write_at": 0.2}}
    with run_proxy_with(config, tmp_path) as server:
        yield server


def manage(proxy: Proxy, path: str, body: dict[str, Any] | None = None,
           **query: str) -> Any:
    if body is None:
        answer = httpx.get(proxy.url + path, headers=ADMIN, params=query, timeout=10)
    else:
        answer = httpx.post(proxy.url + path, headers=ADMIN, json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_generated_key_calls_sync_async_and_streaming(proxy: Proxy) -> None:
    made = manage(proxy, "/key/generate", {"key_alias": "app", "max_budget": 5.0})
    key = made["key"]
    sync = client(proxy, key)
    raw = sync.chat.completions.with_raw_response.create(model="small", messages=HELLO)
    assert raw.parse().choices[0].message.content
    assert float(raw.headers["x-gatewise-key-max-budget"]) == 5.0
    assert float(raw.headers["x-gatewise-key-spend"]) > 0

    async def call_async() -> list[str]:
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=key,
                                      max_retries=0) as aclient:
            answer = await aclient.chat.completions.create(model="small", messages=HELLO)
            stream = await aclient.chat.completions.create(model="small", messages=HELLO,
                                                           stream=True)
            texts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
            return [answer.choices[0].message.content or "", "".join(texts)]

    answers = asyncio.run(call_async())
    assert all(answers)
    deadline = time.monotonic() + 15  # the ledger writes in batches, off the request path
    while True:
        rows = manage(proxy, "/spend/logs", api_key=made["token"], summarize="false")
        if len(rows) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(rows) == 3 and {r["api_key"] for r in rows} == {made["token"]}
    assert sum(r["spend"] for r in rows) > 0
    info = manage(proxy, "/key/info", key=key)["info"]
    assert info["spend"] == pytest.approx(sum(r["spend"] for r in rows))
    assert key not in proxy.output()


def test_refusals_come_back_as_the_openai_packages_errors(proxy: Proxy,
                                                          fake_mistral: FakeMistral) -> None:
    only_small = manage(proxy, "/key/generate", {"models": ["small"]})["key"]
    with pytest.raises(openai.AuthenticationError, match="small"):
        client(proxy, only_small).chat.completions.create(model="large", messages=HELLO)

    limited = manage(proxy, "/key/generate", {"rpm_limit": 2})["key"]
    inside_a_window(5.0, time.monotonic)  # (the third call must fall in the same minute)
    for _ in range(2):
        client(proxy, limited).chat.completions.create(model="small", messages=HELLO)
    with pytest.raises(openai.RateLimitError) as limit:
        client(proxy, limited).chat.completions.create(model="small", messages=HELLO)
    assert int(limit.value.response.headers["retry-after"]) >= 0
    assert limit.value.response.headers["x-ratelimit-remaining-requests"] == "0"

    probe = client(proxy, MASTER).chat.completions.with_raw_response.create(
        model="small", messages=HELLO)
    cost = float(probe.headers["x-gatewise-response-cost"])
    poor = manage(proxy, "/key/generate", {"max_budget": cost * 2.5})["key"]
    served, refusal = _until_refused(client(proxy, poor))
    assert 2 <= served <= 3
    assert isinstance(refusal, openai.BadRequestError)
    assert refusal.body["type"] == "budget_exceeded"  # type: ignore[index]

    brief = manage(proxy, "/key/generate", {"duration": "1s"})["key"]
    client(proxy, brief).chat.completions.create(model="small", messages=HELLO)
    time.sleep(1.2)
    with pytest.raises(openai.AuthenticationError, match="Expired"):
        client(proxy, brief).chat.completions.create(model="small", messages=HELLO)


def _until_refused(app: openai.OpenAI, most: int = 10) -> tuple[int, Exception | None]:
    """Calls made until one is refused, and the refusal."""
    for served in range(most):
        try:
            app.chat.completions.create(model="small", messages=HELLO)
        except openai.APIStatusError as exc:
            return served, exc
    return most, None


def test_block_unblock_and_regenerate(proxy: Proxy) -> None:
    made = manage(proxy, "/key/generate", {})
    key = made["key"]
    client(proxy, key).chat.completions.create(model="small", messages=HELLO)
    manage(proxy, "/key/block", {"key": key})
    with pytest.raises(openai.AuthenticationError):
        client(proxy, key).chat.completions.create(model="small", messages=HELLO)
    manage(proxy, "/key/unblock", {"key": key})
    client(proxy, key).chat.completions.create(model="small", messages=HELLO)
    fresh = manage(proxy, "/key/regenerate", {"key": key})["key"]
    assert fresh != key
    with pytest.raises(openai.AuthenticationError):
        client(proxy, key).chat.completions.create(model="small", messages=HELLO)
    client(proxy, fresh).chat.completions.create(model="small", messages=HELLO)
