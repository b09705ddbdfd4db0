"""Code completion, moderation and Mistral's native routes through the real CLI (a
subprocess) against the fake: the ``openai`` package's ``completions.create`` (streamed
and not) and ``moderations.create``, and curl for Mistral's own routes."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.fake_mistral import FakeMistral
from tests.fake_mistral.server import FIM_TEXT
from tests.proxy._checks import assert_nothing_in_flight, openai_error
from tests.proxy._server import Proxy, client, run_proxy_with

PROMPT = "def add(a, b):\n"
CHAT = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "my passport"}]
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@pytest.fixture(scope="module")
def proxy(_fake_server: FakeMistral, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Proxy]:
    def entry(name: str, model: str) -> dict[str, Any]:
        return {"model_name": name, "litellm_params": {
            "model": model, "api_key": "os.environ/MISTRAL_API_KEY",
            "api_base": _fake_server.base_url}}

    config = {"model_list": [entry("codestral", "mistral/codestral-latest"),
                             entry("moderation", "mistral/mistral-moderation-latest"),
                             entry("small", "mistral/mistral-small-latest")],
              "settings": {"num_retries": 0}}
    with run_proxy_with(config, tmp_path_factory.mktemp("fim"),
                        {"MISTRAL_API_KEY": "test-key"}) as server:
        yield server


def curl(*args: str) -> tuple[dict[str, str], str]:
    out = subprocess.run(["curl", "-sS", "-i", *args], check=True, capture_output=True,
                         text=True, timeout=20).stdout
    head, _, body = out.partition("\n\n")  # text mode turned \r\n into \n
    headers = dict(line.lower().split(": ", 1) for line in head.splitlines()[1:] if line)
    headers["status"] = head.split()[1]
    return headers, body


def post(proxy: Proxy, path: str, body: dict[str, Any], *extra: str) -> tuple[dict[str, str],
                                                                            str]:
    return curl(*extra, proxy.url + path, "-H", "content-type: application/json",
                "-d", json.dumps(body))


# -- the openai package -----------------------------------------------------------------------

def test_openai_completions(proxy: Proxy) -> None:
    completion = client(proxy).completions.create(model="codestral", prompt=PROMPT,
                                                  suffix="print(add(1, 2))", max_tokens=30,
                                                  temperature=0.1, seed=4)
    assert completion.object == "text_completion"
    assert completion.choices[0].text == FIM_TEXT
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0


def test_openai_completions_streamed(proxy: Proxy) -> None:
    stream = client(proxy).completions.create(model="codestral", prompt=PROMPT, stream=True,
                                              stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == FIM_TEXT
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert_nothing_in_flight(proxy)


async def test_openai_completions_async(proxy: Proxy) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="unused",
                                  max_retries=0) as api:
        completion = await api.completions.create(model="codestral", prompt=[PROMPT])
        assert completion.choices[0].text == FIM_TEXT
        stream = await api.completions.create(model="codestral", prompt=PROMPT, stream=True)
        assert "".join([c.choices[0].text async for c in stream if c.choices]) == FIM_TEXT


def test_openai_completions_errors(proxy: Proxy) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(proxy).completions.create(model="codestral", prompt=PROMPT, logprobs=2)
    assert caught.value.param == "logprobs"  # type: ignore[attr-defined]
    with pytest.raises(openai.BadRequestError) as wrong:
        client(proxy).completions.create(model="small", prompt=PROMPT)
    assert wrong.value.code == "model_mode_mismatch"


def test_openai_moderations(proxy: Proxy) -> None:
    response = client(proxy).moderations.create(model="moderation",
                                                input=["good morning", "I will kill you"])
    assert [r.flagged for r in response.results] == [False, True]
    result = response.results[1].model_dump()
    assert result["categories"]["violence_and_threats"] is True  # Mistral's names
    assert result["category_scores"]["violence_and_threats"] > 0.5
    one = client(proxy).moderations.create(model="moderation", input="hello")
    assert len(one.results) == 1
    with pytest.raises(openai.BadRequestError) as wrong:
        client(proxy).moderations.create(model="codestral", input="hello")
    assert wrong.value.code == "model_mode_mismatch"


def test_openai_models_list_their_mode(proxy: Proxy) -> None:
    models = client(proxy).models.list().data
    assert {m.id: m.model_dump()["mode"] for m in models} == {
        "codestral": "chat", "moderation": "moderation", "small": "chat"}


# -- curl, Mistral's own routes -------------------------------------------------------------

@needs_curl
def test_curl_completions(proxy: Proxy) -> None:
    headers, body = post(proxy, "/v1/completions", {"model": "codestral", "prompt": PROMPT})
    assert headers["status"] == "200"
    assert float(headers["x-gatewise-response-cost"]) > 0
    assert json.loads(body)["choices"][0]["text"] == FIM_TEXT


@needs_curl
def test_curl_native_fim(proxy: Proxy) -> None:
    headers, body = post(proxy, "/v1/fim/completions",
                         {"model": "codestral", "prompt": PROMPT, "suffix": "x"})
    assert headers["status"] == "200" and float(headers["x-gatewise-response-cost"]) > 0
    answer = json.loads(body)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == FIM_TEXT
    headers, body = post(proxy, "/fim/completions",
                         {"model": "codestral", "prompt": PROMPT, "stream": True}, "-N")
    assert headers["content-type"].startswith("text/event-stream")
    events = [e for e in body.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == FIM_TEXT
    assert chunks[-1]["usage"]["total_tokens"] > 0


@needs_curl
@pytest.mark.parametrize(("path", "body", "results"), [
    ("/v1/chat/moderations", {"input": CHAT}, 1),
    ("/v1/classifications", {"input": ["a", "b"]}, 2),
    ("/v1/chat/classifications", {"input": {"messages": CHAT}}, 1),
    ("/v1/moderations", {"input": "a"}, 1),
])
def test_curl_classifiers(proxy: Proxy, path: str, body: dict[str, Any], results: int) -> None:
    headers, text = post(proxy, path, {"model": "moderation", **body})
    assert headers["status"] == "200" and headers["x-gatewise-response-cost"] == "0"
    assert len(json.loads(text)["results"]) == results


@needs_curl
def test_curl_a_field_mistral_does_not_allow(proxy: Proxy) -> None:
    headers, body = post(proxy, "/v1/chat/moderations",
                         {"model": "moderation", "input": CHAT, "metadata": {}})
    assert headers["status"] == "422"
    assert "body.metadata: Extra inputs are not permitted" in openai_error(
        body.encode())["message"]
    headers, body = post(proxy, "/v1/classifications", {"model": "small", "input": "x"})
    assert headers["status"] == "400"
    assert openai_error(body.encode())["code"] == "model_mode_mismatch"
