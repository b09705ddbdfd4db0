"""The ASGI app in process: routing, validation and error shapes, auth, limits, metadata."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from gatewise.proxy.app import ProxyApp
from tests.fake_mistral import FakeMistral, Status
from tests.proxy.conftest import HELLO, call, make_app

CHAT = "/v1/chat/completions"


async def test_a_mocked_chat_answers_with_metadata(mock_app: ProxyApp) -> None:
    answer = await call(mock_app, "POST", CHAT, {"model": "demo", "messages": HELLO})
    assert answer.status == 200
    assert answer.json()["choices"][0]["message"]["content"] == "hi there"
    headers = answer.headers
    assert len(headers["x-gatewise-call-id"]) == 32
    assert headers["x-gatewise-model-id"] == "demo#0"
    assert headers["x-gatewise-response-cost"] == "0"
    assert 0 <= float(headers["x-gatewise-overhead-ms"]) < 50
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(answer.body)


async def test_call_ids_are_unique_hex_per_process(mock_app: ProxyApp) -> None:
    ids = []
    for _ in range(3):
        answer = await call(mock_app, "POST", CHAT, {"model": "demo", "messages": HELLO})
        ids.append(answer.headers["x-gatewise-call-id"])
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == 3
    other = make_app({"model_list": [{"model_name": "demo", "params": {
        "model": "mistral/mistral-small-latest", "mock_response": "x"}}]}, {})
    answer = await call(other, "POST", CHAT, {"model": "demo", "messages": HELLO})
    # Another app (another worker) draws its own random half.
    assert answer.headers["x-gatewise-call-id"][:16] != ids[0][:16]


async def test_a_mocked_stream_is_sse(mock_app: ProxyApp) -> None:
    answer = await call(mock_app, "POST", CHAT, {"model": "demo", "messages": HELLO,
                                                 "stream": True,
                                                 "stream_options": {"include_usage": True}})
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert answer.headers["x-gatewise-model-id"] == "demo#0"
    assert "x-gatewise-overhead-ms" in answer.headers
    assert all(c.startswith(b"data: ") and c.endswith(b"\n\n") for c in answer.chunks)
    assert answer.chunks[-1] == b"data: [DONE]\n\n"
    events = answer.body.split(b"\n\n")
    assert events.pop() == b"" and events.pop() == b"data: [DONE]"
    assert all(e.startswith(b"data: {") for e in events)
    chunks = [orjson.loads(e[6:]) for e in events]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks
                   if c["choices"]) == "hi there"
    assert chunks[-1]["usage"]["total_tokens"] > 0


async def test_routes_answer_with_and_without_v1(mock_app: ProxyApp) -> None:
    for path in ("/models", "/v1/models", "/v1/models/"):
        answer = await call(mock_app, "GET", path)
        assert answer.status == 200
        assert [m["id"] for m in answer.json()["data"]] == ["demo", "embed"]
    card = (await call(mock_app, "GET", "/v1/models/demo")).json()
    assert card == {"id": "demo", "object": "model", "created": card["created"],
                    "owned_by": "gatewise", "mode": "chat"}
    assert (await call(mock_app, "GET", "/v1/models/demo/")).json() == card
    for path in ("/health/liveliness", "/health/liveness", "/v1/health/readiness", "/health"):
        assert (await call(mock_app, "GET", path)).status == 200, path


@pytest.mark.parametrize(("body", "status", "param", "fragment"), [
    (b"{not json", 400, None, "could not parse the request body as JSON"),
    (b"", 400, None, "could not parse the request body as JSON"),
    (b"[1, 2]", 400, None, "must be a JSON object"),
    (b'{"messages": []}', 400, "model", "you must provide a model parameter: one of demo, embed"),
    (b'{"model": 3, "messages": []}', 400, "model", "`model` must be a string"),
    (b'{"model": "gpt-4o", "messages": []}', 404, "model",
     "The model `gpt-4o` does not exist on this proxy. Available models: demo, embed"),
    (b'{"model": "demo"}', 400, "messages", "`messages` is required"),
    (b'{"model": "demo", "messages": []}', 400, "messages", "non-empty list"),
    (b'{"model": "demo", "messages": "hi"}', 400, "messages", "non-empty list"),
    (b'{"model": "demo", "messages": ["hi"]}', 400, "messages[0]", "messages[0] must be an object"),
    (b'{"model": "demo", "messages": [{"content": "x"}]}', 400, "messages[0].role", "role"),
    (b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}',
     400, "stream", "`stream` must be true or false"),
    (b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "api_base": "http://x"}',
     400, "api_base", "cannot be set through the proxy"),
    (b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "api_key": "k"}',
     400, "api_key", "cannot be set through the proxy"),
    (b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "ssl_verify": false}',
     400, "ssl_verify", "cannot be set through the proxy"),
    (b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "logprobs": true}',
     400, "logprobs", "Mistral does not support the parameter(s) logprobs"),
    (b'{"model": "demo", "messages": [{"role": "user", "content": "x"}], "temperatur": 1}',
     400, "temperatur", "did you mean 'temperature'?"),
])
async def test_bad_chat_requests(mock_app: ProxyApp, body: bytes, status: int,
                                 param: str | None, fragment: str) -> None:
    answer = await call(mock_app, "POST", CHAT, body=body)
    assert answer.status == status, answer.body
    error = answer.error()
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert fragment in error["message"]
    if status == 404:
        assert error["code"] == "model_not_found"


async def test_embeddings_validation(mock_app: ProxyApp) -> None:
    answer = await call(mock_app, "POST", "/v1/embeddings", {"model": "embed", "input": "hi"})
    assert answer.status == 200
    assert answer.json()["data"][0]["embedding"] == [0.5, 0.5]
    missing = await call(mock_app, "POST", "/v1/embeddings", {"model": "embed"})
    assert (missing.status, missing.error()["param"]) == (400, "input")
    wrong = await call(mock_app, "POST", "/v1/embeddings", {"model": "embed", "input": [1, 2]})
    assert (wrong.status, wrong.error()["param"]) == (400, "input")


async def test_unknown_route_and_method(mock_app: ProxyApp) -> None:
    unknown = await call(mock_app, "POST", "/v1/completions/nope", {})
    assert unknown.status == 404
    assert unknown.error()["code"] == "unknown_url"
    wrong = await call(mock_app, "GET", CHAT)
    assert wrong.status == 405
    assert "use POST" in wrong.error()["message"]
    missing = await call(mock_app, "GET", "/v1/models/nope")
    assert (missing.status, missing.error()["code"]) == (404, "model_not_found")


async def test_body_over_the_limit_is_413(mock_app: ProxyApp) -> None:
    mock_app.state.max_body = 100
    declared = await call(mock_app, "POST", CHAT, body=b"x" * 101,
                          headers={"content-length": "101"})
    assert declared.status == 413
    assert declared.error()["code"] == "request_too_large"
    assert declared.headers["connection"] == "close"
    chunked = await call(mock_app, "POST", CHAT, body_parts=[b"x" * 60, b"x" * 60, b"x" * 60])
    assert chunked.status == 413
    ok = await call(mock_app, "POST", CHAT, body_parts=[b'{"model": "demo", ',
                                                        b'"messages": [{"role": "user"}]}'])
    assert ok.status == 200


async def test_an_unexpected_error_is_a_500_in_openai_shape(
        mock_app: ProxyApp, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(mock_app.state, "check_served", boom)
    answer = await call(mock_app, "POST", CHAT, {"model": "demo", "messages": HELLO})
    assert answer.status == 500
    error = answer.error()
    assert (error["type"], error["code"]) == ("api_error", "internal_error")
    assert "boom" not in error["message"]
    assert "ZeroDivisionError" in caplog.text


MASTER = {"general_settings": {"master_key": "sk-master-123"}, "model_list": [
    {"model_name": "demo", "params": {"model": "mistral/mistral-small-latest",
                                      "mock_response": "ok"}}]}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "sk-master-123",
                                           "Basic sk-master-123", "Bearer sk-master-1234"])
async def test_master_key_is_required(authorization: str | None) -> None:
    app = make_app(MASTER)
    headers = {"authorization": authorization} if authorization else {}
    for method, path, body in (("POST", CHAT, {"model": "demo", "messages": HELLO}),
                               ("GET", "/v1/models", None), ("GET", "/v1/models/demo", None),
                               ("POST", "/v1/embeddings", {"model": "demo", "input": "x"}),
                               ("GET", "/health", None)):
        answer = await call(app, method, path, body, headers=headers,
                            query=b"probe=true" if path == "/health" else b"")
        assert answer.status == 401, path
        error = answer.error()
        assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_api_key")
        assert "sk-master-123" not in answer.body.decode()


async def test_master_key_lets_in_and_health_stays_open() -> None:
    app = make_app(MASTER)
    good = {"authorization": "Bearer sk-master-123"}
    assert (await call(app, "POST", CHAT, {"model": "demo", "messages": HELLO},
                       headers=good)).status == 200
    assert (await call(app, "GET", "/v1/models", headers={"authorization": "bearer sk-master-123"}
                       )).status == 200
    for path in ("/health", "/health/liveliness", "/health/liveness", "/health/readiness"):
        assert (await call(app, "GET", path)).status == 200


async def test_secrets_stay_out_of_health_and_models() -> None:
    app = make_app({"general_settings": {"master_key": "sk-master-123"}, "model_list": [
        {"model_name": "m", "params": {"model": "mistral/mistral-small-latest",
                                       "api_key": "sk-upstream-456",
                                       "api_base": "http://127.0.0.1:9/v1"}}]})
    auth = {"authorization": "Bearer sk-master-123"}
    texts = [(await call(app, "GET", p, headers=auth)).body.decode()
             for p in ("/health", "/v1/models", "/v1/models/m", "/health/readiness")]
    texts += [repr(app.state.deployments), repr(app.state.config)]
    for text in texts:
        assert "sk-upstream-456" not in text and "sk-master-123" not in text


async def test_a_deployment_without_its_key_answers_clearly() -> None:
    app = make_app({"model_list": [
        {"model_name": "m", "params": {"model": "mistral/mistral-small-latest",
                                       "api_key": "os.environ/MISTRAL_API_KEY"}},
        {"model_name": "demo", "params": {"model": "mistral/mistral-small-latest",
                                          "mock_response": "ok"}}]})
    answer = await call(app, "POST", CHAT, {"model": "m", "messages": HELLO})
    assert answer.status == 503
    assert answer.headers["x-should-retry"] == "false"
    error = answer.error()
    assert "MISTRAL_API_KEY is not set" in error["message"]
    assert error["code"] == "deployment_not_configured"
    assert (await call(app, "POST", CHAT, {"model": "demo", "messages": HELLO})).status == 200
    health = (await call(app, "GET", "/health")).json()
    assert health["unhealthy_endpoints"][0]["error"] == "MISTRAL_API_KEY is not set"
    assert health["healthy_count"] == 1


async def test_the_first_usable_entry_of_a_name_serves() -> None:
    app = make_app({"model_list": [
        {"model_name": "m", "params": {"model": "mistral/mistral-small-latest",
                                       "api_key": "os.environ/NOT_SET"}},
        {"model_name": "m", "params": {"model": "mistral/mistral-small-latest",
                                       "mock_response": "second"}}]})
    answer = await call(app, "POST", CHAT, {"model": "m", "messages": HELLO})
    assert answer.headers["x-gatewise-model-id"] == "m#1"
    assert [m["id"] for m in (await call(app, "GET", "/models")).json()["data"]] == ["m"]


# -- against the fake upstream, in process ------------------------------------------------

async def test_upstream_call_with_cost_and_deployment_defaults(
        fake_mistral: FakeMistral) -> None:
    app = make_app({"model_list": [{"model_name": "m", "params": {
        "model": "mistral/mistral-small-latest", "api_key": "test-key", "temperature": 0.25,
        "api_base": fake_mistral.base_url}}]})
    try:
        answer = await call(app, "POST", CHAT, {"model": "m", "messages": HELLO,
                                                "max_tokens": 5})
        assert answer.status == 200, answer.body
        sent = fake_mistral.requests[-1]
        assert sent.json["model"] == "mistral-small-latest"
        assert (sent.json["temperature"], sent.json["max_tokens"]) == (0.25, 5)
        assert sent.headers["authorization"] == "Bearer test-key"
        assert float(answer.headers["x-gatewise-response-cost"]) > 0
        override = await call(app, "POST", CHAT, {"model": "m", "messages": HELLO,
                                                   "temperature": 0.9})
        assert override.status == 200
        assert fake_mistral.requests[-1].json["temperature"] == 0.9
    finally:
        await app.state.aclose()


@pytest.mark.parametrize(("status", "expected_status", "expected_type"), [
    (400, 400, "invalid_request_error"),
    (403, 403, "permission_error"),
    (429, 429, "rate_limit_error"),
    (500, 500, "api_error"),
    (503, 503, "api_error"),
])
async def test_upstream_errors_keep_their_status(
        fake_app: ProxyApp, fake_mistral: FakeMistral, status: int, expected_status: int,
        expected_type: str) -> None:
    fake_mistral.script(Status(status))
    answer = await call(fake_app, "POST", CHAT, {"model": "mistral-small-latest",
                                                 "messages": HELLO})
    assert answer.status == expected_status, answer.body
    assert answer.error()["type"] == expected_type
    assert answer.headers["x-gatewise-model-id"] == "mistral-small-latest#0"


async def test_an_error_before_the_stream_opens_is_a_plain_http_error(
        fake_app: ProxyApp, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(Status(400))
    answer = await call(fake_app, "POST", CHAT, {"model": "mistral-small-latest",
                                                 "messages": HELLO, "stream": True})
    assert answer.status == 400
    assert answer.headers["content-type"] == "application/json"
    assert answer.error()["type"] == "invalid_request_error"


async def test_upstream_401_is_about_the_deployment_key(
        fake_app: ProxyApp, fake_mistral: FakeMistral) -> None:
    fake_mistral.api_keys = {"another-key"}
    answer = await call(fake_app, "POST", CHAT, {"model": "mistral-small-latest",
                                                 "messages": HELLO})
    assert answer.status == 401
    error = answer.error()
    assert error["code"] == "upstream_authentication_error"
    assert "rejected the deployment's API key (check MISTRAL_API_KEY" in error["message"]
    assert "test-key" not in answer.body.decode()


async def test_unreachable_upstream_is_502() -> None:
    app = make_app({"model_list": [{"model_name": "m", "params": {
        "model": "mistral/mistral-small-latest", "api_key": "k",
        "api_base": "http://127.0.0.1:9/v1", "max_retries": 0}}]})
    try:
        answer = await call(app, "POST", CHAT, {"model": "m", "messages": HELLO})
    finally:
        await app.state.aclose()
    assert answer.status == 502
    assert answer.error()["type"] == "api_connection_error"


async def test_health_probe_calls_each_deployment_once(
        fake_app: ProxyApp, fake_mistral: FakeMistral) -> None:
    quiet = (await call(fake_app, "GET", "/health")).json()
    assert (quiet["probed"], quiet["healthy_count"]) == (False, 1)
    assert fake_mistral.requests == []
    probed = (await call(fake_app, "GET", "/health", query=b"probe=true")).json()
    assert probed["healthy_endpoints"][0]["status"] == "healthy"
    assert fake_mistral.requests[-1].json["max_tokens"] == 1
    fake_mistral.api_keys = {"another-key"}
    failing = (await call(fake_app, "GET", "/health", query=b"probe=1")).json()
    (entry,) = failing["unhealthy_endpoints"]
    assert entry["status"] == "unhealthy"
    assert "rejected the deployment's API key" in entry["error"]


# -- nothing a client sends gives a 500 ----------------------------------------------------

_WEIRD: list[Any] = [None, 0, -1, 1.5, True, "", "x", [], [1], [None], {}, {"a": 1}, [{}],
                     {"type": "json_schema", "json_schema": 5}, [{"type": "function"}],
                     [{"type": "function", "function": {"name": 5}}], [{"type": "image_url"}]]
_FIELDS = ["temperature", "max_tokens", "stop", "n", "tools", "tool_choice", "response_format",
           "stream_options", "seed", "max_completion_tokens", "functions", "function_call",
           "prediction", "thinking", "extra_body", "parallel_tool_calls", "metadata", "user",
           "logprobs", "top_logprobs", "logit_bias", "modalities", "timeout", "num_retries",
           "drop_params", "mock_response", "top_p", "safe_prompt", "prompt_mode"]


@pytest.mark.parametrize("field", [*_FIELDS, "reasoning_effort", "service_tier"])
async def test_odd_field_values_never_give_a_500(mock_app: ProxyApp, field: str) -> None:
    for value in _WEIRD:
        for stream in (False, True):
            answer = await call(mock_app, "POST", CHAT, {
                "model": "demo", "messages": HELLO, field: value, "stream": stream})
            assert answer.status < 500, (field, value, answer.body)
            if answer.status >= 400:
                answer.error()


async def test_odd_messages_never_give_a_500(mock_app: ProxyApp) -> None:
    variants: list[Any] = [[{"role": "user", "content": v}] for v in _WEIRD]
    variants += [[{"role": "assistant", "tool_calls": v}] for v in _WEIRD]
    variants += [[{"role": "tool", "content": "x", "tool_call_id": v}] for v in _WEIRD]
    variants += [[{"role": r, "content": "x"}] for r in ("system", "developer", "tool", "bogus")]
    for messages in variants:
        answer = await call(mock_app, "POST", CHAT, {"model": "demo", "messages": messages})
        assert answer.status < 500, (messages, answer.body)
