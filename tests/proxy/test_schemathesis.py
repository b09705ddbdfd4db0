"""Bad input, generated: schemathesis reads the proxy's own ``/openapi.json`` (served by the
real CLI) and sends a few hundred requests that fit it and a few hundred that do not, with a
fixed seed.  The proxy must never answer 5xx, and every answer that is not a success must be
OpenAI's error JSON.  The models are a mock, a mocked embedding model and the fake Mistral
server (strict: whatever the proxy sends it is checked against Mistral's own schema)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.fake_mistral import FakeMistral
from tests.proxy._checks import openai_error, sse_data
from tests.proxy._server import Proxy, run_proxy_with

MASTER_KEY = "sk-schemathesis-master"
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
EXAMPLES = {  # per operation and mode: a few hundred in all (chat bodies are slow to make)
    "POST /v1/chat/completions": 60,
    "POST /v1/embeddings": 50,
}
OTHERS = 20


@pytest.fixture(scope="module")
def proxy(_fake_server: FakeMistral, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Proxy]:
    workdir = tmp_path_factory.mktemp("schemathesis")
    config = {
        "model_list": [
            {"model_name": "demo", "params": {"model": "mistral/mistral-small-latest",
                                              "mock_response": "hi"}},
            {"model_name": "small", "litellm_params": {
                "model": "mistral/mistral-small-latest", "api_key": "test-key",
                "api_base": _fake_server.base_url}},
            {"model_name": "embed", "params": {"model": "mistral/mistral-embed",
                                               "mock_response": [0.5, 0.25]},
             "model_info": {"mode": "embedding"}},
        ],
        "settings": {"num_retries": 0, "request_timeout": 5},
        "general_settings": {"master_key": MASTER_KEY},
    }
    with run_proxy_with(config, workdir) as server:
        yield server


def test_the_document_is_served_behind_the_key(proxy: Proxy) -> None:
    assert httpx.get(proxy.url + "/openapi.json").status_code == 401
    document = httpx.get(proxy.url + "/openapi.json", headers=AUTH).json()
    assert document["openapi"].startswith("3.")
    chat = document["paths"]["/v1/chat/completions"]["post"]
    schema = chat["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["model"]["enum"] == ["demo", "small"]
    embedding = document["paths"]["/v1/embeddings"]["post"]["requestBody"]
    assert embedding["content"]["application/json"]["schema"]["properties"]["model"][
        "enum"] == ["embed"]
    assert chat["security"] == [{"bearer": []}]


def _check(case: Any, response: Any) -> None:
    where = f"{case.method} {case.path} {case.body!r:.300}"
    assert response.status_code < 500, f"{where} -> {response.status_code} {response.text:.500}"
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if response.status_code >= 400:
        assert content_type == "application/json", where
        openai_error(response.content)
    elif content_type.startswith("text/event-stream"):  # ends with [DONE] or an error event
        data = sse_data(response.content)
        assert data[-1] == b"[DONE]" or openai_error(json.loads(data[-1])), where


def _explore(operation: Any, mode: GenerationMode, examples: int,
             seen: list[tuple[str, int]]) -> None:
    """Send ``examples`` generated cases of ``operation``, checking each answer."""
    label = f"{operation.method.upper()} {operation.path}"

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(headers=AUTH, timeout=10)
        seen.append((label, response.status_code))
        _check(case, response)

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid: an operation without any input
        assert mode is GenerationMode.NEGATIVE
        assert not operation.body and not operation.path_parameters


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_gets_a_5xx_or_an_error_of_another_shape(
        proxy: Proxy, fake_mistral: FakeMistral, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(proxy.url + "/openapi.json", headers=AUTH)
    seen: list[tuple[str, int]] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        label = f"{operation.method.upper()} {operation.path}"
        _explore(operation, mode, EXAMPLES.get(label, OTHERS), seen)
    assert {label for label, _ in seen} >= {
        "POST /v1/chat/completions", "POST /v1/embeddings", "GET /v1/models",
        "GET /v1/models/{model}", "POST /v1/completions", "POST /v1/fim/completions",
        "POST /v1/moderations", "POST /v1/ocr", "POST /v1/audio/transcriptions",
        "POST /key/generate", "POST /key/regenerate", "POST /key/{key}/regenerate",
        "POST /key/block", "POST /team/update", "POST /team/member_add",
        "POST /team/member_delete", "POST /user/update", "POST /user/delete",
        "POST /customer/update", "POST /customer/block", "GET /customer/info",
        "GET /spend/logs"}
    assert len(seen) >= 400 if mode is GenerationMode.POSITIVE else len(seen) >= 300
    statuses = {status for _, status in seen}
    if mode is GenerationMode.POSITIVE:
        assert 200 in statuses
    else:
        assert statuses & {400, 404, 422}
