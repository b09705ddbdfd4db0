"""The proxy's code completion, moderation and Mistral-native routes, in process against the
strict fake: shapes, cost, streams, errors mapped as for chat, and every model route
refusing a model of the wrong mode with a 400 before any upstream call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from gatewise.catalogue import default_catalogue
from gatewise.proxy.app import ProxyApp
from gatewise.proxy.config import ConfigError
from gatewise.proxy.errors import ProxyError
from tests.fake_mistral import CutStream, Delay, FakeMistral, Status
from tests.fake_mistral.server import FIM_TEXT
from tests.proxy._checks import final_error_event
from tests.proxy.conftest import HELLO, call, make_app

PROMPT = "def add(a, b):\n"
CHAT = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "my passport"}]


def config(base: str, **settings: Any) -> dict[str, Any]:
    def entry(name: str, model: str, **info: Any) -> dict[str, Any]:
        item: dict[str, Any] = {"model_name": name, "params": {
            "model": model, "api_key": "test-key", "api_base": base}}
        if info:
            item["model_info"] = info
        return item

    return {"model_list": [
        entry("codestral", "mistral/codestral-latest"),
        entry("moderation", "mistral/mistral-moderation-latest"),
        entry("small", "mistral/mistral-small-latest"),
        entry("embed", "mistral/mistral-embed"),
        entry("ocr", "mistral/mistral-ocr-latest"),
        entry("finetune", "mistral/ft:classifier:ministral-3b:abc123"),  # nothing known
        entry("old-codestral", "mistral/codestral-2405", mode="chat", supports_fim=True),
        {"model_name": "mocked", "params": {"model": "mistral/codestral-latest",
                                            "mock_response": "    pass\n"}},
    ], "settings": {"num_retries": 0, "request_timeout": 1, **settings},
        "router_settings": {"model_group_alias": {"code": "codestral",
                                                  "mod": {"model": "moderation",
                                                          "hidden": True}}}}


@pytest.fixture
async def app(fake_mistral: FakeMistral) -> AsyncIterator[ProxyApp]:
    proxy = make_app(config(fake_mistral.base_url))
    yield proxy
    await proxy.state.aclose()


def events(body: bytes) -> list[Any]:
    """The SSE events of a stream, decoded; ``[DONE]`` as the string."""
    out = []
    for event in body.split(b"\n\n"):
        if event:
            assert event.startswith(b"data: ")
            data = event[6:]
            out.append(data.decode() if data == b"[DONE]" else orjson.loads(data))
    return out


# -- POST /v1/completions ---------------------------------------------------------------------

async def test_completions_in_openais_legacy_shape(app: ProxyApp, fake_mistral: FakeMistral
                                                   ) -> None:
    for path in ("/v1/completions", "/completions"):
        answer = await call(app, "POST", path, {"model": "codestral", "prompt": PROMPT,
                                                "suffix": "print(add(1, 2))", "max_tokens": 20,
                                                "seed": 1, "n": 1, "user": "u"})
        assert answer.status == 200, answer.body
        body = answer.json()
        assert body["object"] == "text_completion"
        assert body["choices"] == [{"index": 0, "text": FIM_TEXT, "logprobs": None,
                                    "finish_reason": "stop"}]
        assert fake_mistral.requests[-1].path == "/v1/fim/completions"
        assert fake_mistral.requests[-1].json == {
            "model": "codestral-latest", "prompt": PROMPT, "suffix": "print(add(1, 2))",
            "max_tokens": 20, "random_seed": 1}
        info = default_catalogue().get("mistral/codestral-latest")
        usage = body["usage"]
        assert float(answer.headers["x-gatewise-response-cost"]) == pytest.approx(
            usage["prompt_tokens"] * info.input_cost_per_token
            + usage["completion_tokens"] * info.output_cost_per_token)
        assert answer.headers["x-gatewise-model-id"] == "codestral#0"


async def test_completions_stream_as_text_completion_chunks(app: ProxyApp) -> None:
    answer = await call(app, "POST", "/v1/completions", {
        "model": "codestral", "prompt": PROMPT, "stream": True,
        "stream_options": {"include_usage": True}})
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    got = events(answer.body)
    assert got[-1] == "[DONE]"
    chunks = got[:-1]
    assert {c["object"] for c in chunks} == {"text_completion"}
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == FIM_TEXT
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "codestral"}, "prompt"),
    ({"model": "codestral", "prompt": "x", "stream": "yes"}, "stream"),
    ({"model": "codestral", "prompt": "x", "logprobs": 2}, "logprobs"),
    ({"model": "codestral", "prompt": "x", "echo": True, "best_of": 2}, "echo, best_of"),
    ({"model": "codestral", "prompt": ["x", "y"]}, "prompt"),
    ({"model": "codestral", "prompt": [1, 2]}, "prompt"),
    ({"model": "codestral", "prompt": "x", "temperature": 9}, "temperature"),
    ({"model": "codestral", "prompt": "x", "api_base": "http://evil"}, "api_base"),
    ({"prompt": "x"}, "model"),
])
async def test_bad_completion_requests_get_a_400_naming_the_field(
        app: ProxyApp, fake_mistral: FakeMistral, body: dict[str, Any], param: str) -> None:
    answer = await call(app, "POST", "/v1/completions", body)
    assert answer.status == 400
    assert answer.error()["param"] == param
    assert fake_mistral.requests == []


async def test_drop_params_drops_what_fim_cannot_honour(fake_mistral: FakeMistral) -> None:
    app = make_app(config(fake_mistral.base_url, drop_params=True))
    try:
        answer = await call(app, "POST", "/v1/completions", {
            "model": "codestral", "prompt": "x", "logprobs": 2, "echo": True})
        assert answer.status == 200
        assert fake_mistral.requests[-1].json == {"model": "codestral-latest", "prompt": "x"}
    finally:
        await app.state.aclose()


async def test_a_mocked_deployment_completes_without_the_network(
        app: ProxyApp, fake_mistral: FakeMistral) -> None:
    answer = await call(app, "POST", "/v1/completions", {"model": "mocked", "prompt": "x"})
    assert answer.json()["choices"][0]["text"] == "    pass\n"
    assert answer.headers["x-gatewise-response-cost"] == "0"
    streamed = await call(app, "POST", "/v1/completions",
                          {"model": "mocked", "prompt": "x", "stream": True})
    chunks = events(streamed.body)[:-1]
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == "    pass\n"
    native = await call(app, "POST", "/v1/fim/completions", {"model": "mocked", "prompt": "x"})
    assert native.json()["choices"][0]["message"]["content"] == "    pass\n"
    assert fake_mistral.requests == []


async def test_aliases_serve_what_their_group_serves(app: ProxyApp) -> None:
    answer = await call(app, "POST", "/v1/completions", {"model": "code", "prompt": "x"})
    assert answer.status == 200
    hidden = await call(app, "POST", "/v1/moderations", {"model": "mod", "input": "x"})
    assert hidden.status == 200
    wrong = await call(app, "POST", "/v1/chat/completions", {"model": "mod",
                                                             "messages": HELLO})
    assert wrong.status == 400 and wrong.error()["code"] == "model_mode_mismatch"


# -- modes ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "body", "mode", "fits"), [
    ("/v1/embeddings", {"model": "small", "input": "x"}, "chat", "/v1/chat/completions"),
    ("/v1/chat/completions", {"model": "ocr", "messages": HELLO}, "ocr", "/v1/ocr"),
    ("/v1/chat/completions", {"model": "embed", "messages": HELLO}, "embedding",
     "/v1/embeddings"),
    ("/v1/completions", {"model": "embed", "prompt": "x"}, "embedding", "/v1/embeddings"),
    ("/v1/completions", {"model": "small", "prompt": "x"}, "chat", "/v1/chat/completions"),
    ("/v1/fim/completions", {"model": "moderation", "prompt": "x"}, "moderation",
     "/v1/moderations"),
    ("/v1/moderations", {"model": "codestral", "input": "x"}, "chat", "/v1/completions"),
    ("/v1/chat/moderations", {"model": "small", "input": CHAT}, "chat", "/v1/chat/completions"),
    ("/v1/classifications", {"model": "embed", "input": "x"}, "embedding", "/v1/embeddings"),
    ("/chat/classifications", {"model": "small", "input": {"messages": CHAT}}, "chat",
     "/v1/chat/completions"),
])
async def test_a_model_of_the_wrong_mode_is_a_400_before_any_call(
        app: ProxyApp, fake_mistral: FakeMistral, path: str, body: dict[str, Any], mode: str,
        fits: str) -> None:
    answer = await call(app, "POST", path, body)
    assert answer.status == 400
    error = answer.error()
    assert error["param"] == "model" and error["code"] == "model_mode_mismatch"
    assert f"`{body['model']}` (mode: {mode})" in error["message"]
    assert fits in error["message"]
    assert fake_mistral.requests == []


async def test_models_are_listed_with_their_mode(app: ProxyApp) -> None:
    cards = (await call(app, "GET", "/v1/models")).json()["data"]
    assert {c["id"]: c["mode"] for c in cards} == {
        "codestral": "chat", "moderation": "moderation", "small": "chat", "embed": "embedding",
        "ocr": "ocr", "finetune": None, "old-codestral": "chat", "mocked": "chat",
        "code": "chat"}
    card = (await call(app, "GET", "/v1/models/embed")).json()
    assert card["mode"] == "embedding" and card["object"] == "model"


async def test_a_model_nothing_is_known_of_is_tried_on_any_route(
        app: ProxyApp, fake_mistral: FakeMistral) -> None:
    answer = await call(app, "POST", "/v1/moderations", {"model": "finetune", "input": "x"})
    assert answer.status == 400 and "Invalid model" in answer.error()["message"]  # Mistral's
    assert fake_mistral.requests[-1].path == "/v1/moderations"


async def test_the_config_can_state_what_the_catalogue_does_not_know(app: ProxyApp) -> None:
    answer = await call(app, "POST", "/v1/completions", {"model": "old-codestral",
                                                         "prompt": "x"})
    assert answer.status == 200 and answer.json()["choices"][0]["text"] == FIM_TEXT


async def test_check_served_takes_a_mode_or_none(app: ProxyApp) -> None:
    state = app.state
    state.check_served("ocr")  # None: any route
    state.check_served("ocr", mode="ocr")
    state.check_served("finetune", mode="audio_transcription")
    with pytest.raises(ProxyError) as caught:
        state.check_served("small", mode="ocr")
    assert caught.value.status == 400 and caught.value.code == "model_mode_mismatch"
    with pytest.raises(ProxyError) as missing:
        state.check_served("nope", mode="ocr")
    assert missing.value.status == 404


# -- POST /v1/moderations ---------------------------------------------------------------------

@pytest.mark.parametrize(("input", "flagged", "upstream"), [
    ("good morning", [False], "/v1/moderations"),
    (["good morning", "I will kill you"], [False, True], "/v1/moderations"),
    (CHAT, [True], "/v1/chat/moderations"),
    ([CHAT, CHAT[:1]], [True, False], "/v1/chat/moderations"),
])
async def test_moderations_in_openais_shape(app: ProxyApp, fake_mistral: FakeMistral,
                                            input: Any, flagged: list[bool], upstream: str
                                            ) -> None:
    answer = await call(app, "POST", "/v1/moderations", {"model": "moderation", "input": input})
    assert answer.status == 200, answer.body
    body = answer.json()
    assert [r["flagged"] for r in body["results"]] == flagged
    assert all(set(r) == {"flagged", "categories", "category_scores"} for r in body["results"])
    assert "violence_and_threats" in body["results"][0]["categories"]  # Mistral's names
    assert answer.headers["x-gatewise-response-cost"] == "0"  # the catalogue's price: 0
    assert fake_mistral.requests[-1].path == upstream


async def test_bad_moderation_requests_are_named(app: ProxyApp) -> None:
    for body, param in (({"model": "moderation"}, "input"),
                        ({"model": "moderation", "input": []}, "input"),
                        ({"model": "moderation", "input": [{"role": "x", "content": "y"}]},
                         "input[0].role"),
                        ({"model": "moderation", "input": "x", "temperature": 1},
                         "temperature")):
        answer = await call(app, "POST", "/moderations", body)
        assert answer.status == 400 and answer.error()["param"] == param, body


# -- Mistral's own routes ---------------------------------------------------------------------

async def test_native_fim_answers_in_mistrals_shape(app: ProxyApp, fake_mistral: FakeMistral
                                                    ) -> None:
    answer = await call(app, "POST", "/v1/fim/completions", {
        "model": "codestral", "prompt": PROMPT, "suffix": "x", "min_tokens": 1})
    assert answer.status == 200
    body = answer.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == FIM_TEXT
    assert float(answer.headers["x-gatewise-response-cost"]) > 0
    assert fake_mistral.requests[-1].json == {"model": "codestral-latest", "prompt": PROMPT,
                                              "suffix": "x", "min_tokens": 1}


async def test_native_fim_streams_mistrals_own_events(app: ProxyApp) -> None:
    answer = await call(app, "POST", "/fim/completions", {
        "model": "codestral", "prompt": PROMPT, "stream": True})
    assert answer.status == 200
    assert b'"p":"' in answer.body  # Mistral's padding: its events, as they came
    got = events(answer.body)
    assert got[-1] == "[DONE]"
    assert {e["object"] for e in got[:-1]} == {"chat.completion.chunk"}
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in got[:-1]) == FIM_TEXT


@pytest.mark.parametrize(("path", "body", "status", "param"), [
    ("/v1/fim/completions", {"model": "codestral"}, 400, "prompt"),
    ("/v1/fim/completions", {"model": "codestral", "prompt": "x", "stream": 1}, 400, "stream"),
    ("/v1/chat/moderations", {"model": "moderation"}, 400, "input"),
    ("/v1/classifications", {"input": "x"}, 400, "model"),
    ("/v1/chat/classifications", {"model": "nope", "input": "x"}, 404, "model"),
    ("/v1/classifications", {"model": "moderation", "input": "x", "stream": True}, 400,
     "stream"),
])
async def test_native_routes_check_what_is_the_proxys(app: ProxyApp, path: str,
                                                      body: dict[str, Any], status: int,
                                                      param: str) -> None:
    answer = await call(app, "POST", path, body)
    assert answer.status == status and answer.error()["param"] == param


async def test_a_field_mistral_does_not_allow_is_a_422_naming_it(app: ProxyApp) -> None:
    for path, body in (("/v1/fim/completions", {"model": "codestral", "prompt": "x",
                                                "best_of": 2}),
                       ("/v1/classifications", {"model": "moderation", "input": "x",
                                                "labels": ["a"]})):
        answer = await call(app, "POST", path, body)
        assert answer.status == 422
        assert "Extra inputs are not permitted" in answer.error()["message"]
        assert next(k for k in body if k not in ("model", "prompt", "input")) in (
            answer.error()["message"])


@pytest.mark.parametrize(("path", "body", "results"), [
    ("/v1/chat/moderations", {"input": [CHAT, CHAT]}, 2),
    ("/v1/classifications", {"input": ["a", "b", "c"]}, 3),
    ("/v1/chat/classifications", {"input": [{"messages": CHAT}]}, 1),
])
async def test_native_classifiers_pass_through(app: ProxyApp, path: str, body: dict[str, Any],
                                               results: int) -> None:
    answer = await call(app, "POST", path, {"model": "moderation", **body})
    assert answer.status == 200
    assert len(answer.json()["results"]) == results
    assert answer.headers["x-gatewise-response-cost"] == "0"


# -- upstream faults, as for chat ---------------------------------------------------------------

@pytest.mark.parametrize(("path", "body"), [
    ("/v1/completions", {"model": "codestral", "prompt": "x"}),
    ("/v1/moderations", {"model": "moderation", "input": "x"}),
    ("/v1/fim/completions", {"model": "codestral", "prompt": "x"}),
    ("/v1/chat/classifications", {"model": "moderation", "input": {"messages": CHAT}}),
])
async def test_upstream_errors_map_as_for_chat(app: ProxyApp, fake_mistral: FakeMistral,
                                               path: str, body: dict[str, Any]) -> None:
    fake_mistral.script(Status(429, headers={"Retry-After": "7"}))
    limited = await call(app, "POST", path, body)
    assert limited.status == 429 and limited.headers["retry-after"] == "7"
    assert limited.error()["type"] == "rate_limit_error"
    fake_mistral.script(Status(500))
    assert (await call(app, "POST", path, body)).status == 500
    fake_mistral.script(Delay(3))
    timed_out = await call(app, "POST", path, body)
    assert timed_out.status == 504 and timed_out.error()["type"] == "timeout"
    fake_mistral.api_keys = {"another-key"}
    refused = await call(app, "POST", path, body)
    assert refused.status == 401 and "test-key" not in refused.body.decode()


@pytest.mark.parametrize("path", ["/v1/completions", "/v1/fim/completions"])
async def test_a_stream_cut_mid_way_ends_with_an_error_event(
        app: ProxyApp, fake_mistral: FakeMistral, path: str) -> None:
    fake_mistral.script(CutStream(after_events=3))
    answer = await call(app, "POST", path, {"model": "codestral", "prompt": "x",
                                            "stream": True})
    assert answer.status == 200
    error = final_error_event(answer.body)
    assert error["type"] == "api_connection_error"


@pytest.mark.parametrize(("info", "path"), [
    ({"mode": "embeddings"}, "model_list[0].model_info.mode"),
    ({"mode": 3}, "model_list[0].model_info.mode"),
    ({"supports_fim": "false"}, "model_list[0].model_info.supports_fim"),
])
def test_a_mode_typo_in_the_config_is_refused_at_startup(info: dict[str, Any], path: str
                                                         ) -> None:
    with pytest.raises(ConfigError) as caught:
        make_app({"model_list": [{"model_name": "x", "model_info": info,
                                  "params": {"model": "mistral/mistral-embed"}}]})
    assert any(path in problem for problem in caught.value.problems)


async def test_the_health_probe_asks_each_model_what_it_serves(
        app: ProxyApp, fake_mistral: FakeMistral) -> None:
    report = (await call(app, "GET", "/health", query=b"probe=true")).json()
    healthy = {e["model_name"] for e in report["healthy_endpoints"]}
    assert {"codestral", "moderation", "embed"} <= healthy
    assert "/v1/moderations" in {r.path for r in fake_mistral.requests}
