"""Code completion (FIM) through the public API, sync and async, against the strict fake:
OpenAI's legacy completions shape, streams, cost, typed errors, the wrong kind of model."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import orjson
import pytest

import gatewise
from gatewise import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    UnprocessableEntityError,
    UnsupportedParamsError,
    _api,
)
from gatewise.types import TextCompletionChunk, TextCompletionResponse
from tests.fake_mistral import CutStream, Delay, FakeMistral, Status
from tests.fake_mistral.server import FIM_TEXT
from tests.sdk._endpoints import CODESTRAL, Endpoints

PROMPT = "def add(a, b):\n"
PRICES = gatewise.get_model_info(CODESTRAL)


@pytest.fixture(params=["sync", "async"])
def endpoints(request: pytest.FixtureRequest, fake_mistral: FakeMistral) -> Endpoints:
    return Endpoints(request.param, fake_mistral)


def test_a_completion_fills_the_gap(endpoints: Endpoints) -> None:
    response = endpoints.call("text_completion", CODESTRAL, PROMPT, suffix="\nprint(add(1, 2))",
                              max_tokens=32, min_tokens=1, stop=["\n\n"], temperature=0.1,
                              top_p=0.9, seed=42)
    assert isinstance(response, TextCompletionResponse)
    assert response.object == "text_completion"
    assert response.choices[0].text == FIM_TEXT
    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].logprobs is None
    assert response.model == "codestral-latest"
    assert endpoints.fake.requests[-1].path == "/v1/fim/completions"
    assert endpoints.last_body() == {
        "model": "codestral-latest", "prompt": PROMPT, "suffix": "\nprint(add(1, 2))",
        "max_tokens": 32, "min_tokens": 1, "stop": ["\n\n"], "temperature": 0.1,
        "top_p": 0.9, "random_seed": 42}


def test_the_cost_is_tokens_times_the_catalogues_prices(endpoints: Endpoints) -> None:
    response = endpoints.call("text_completion", CODESTRAL, PROMPT)
    usage = response.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert PRICES.input_cost_per_token and PRICES.output_cost_per_token
    assert response.cost == pytest.approx(usage.prompt_tokens * PRICES.input_cost_per_token
                                          + usage.completion_tokens
                                          * PRICES.output_cost_per_token)


def test_a_stream_gives_text_completion_chunks(endpoints: Endpoints) -> None:
    chunks, _ = endpoints.call("text_completion", CODESTRAL, PROMPT, stream=True)
    assert all(isinstance(c, TextCompletionChunk) for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == FIM_TEXT
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert endpoints.last_body()["stream"] is True
    assert endpoints.fake.requests[-1].headers["accept"] == "text/event-stream"


def test_the_relayed_stream_is_sse_bytes_with_usage(endpoints: Endpoints) -> None:
    blocks, usage = endpoints.call("text_completion_sse", CODESTRAL, PROMPT, stream=True,
                                   stream_options={"include_usage": True})
    events = b"".join(blocks).split(b"\n\n")
    assert events.pop() == b""
    chunks = [orjson.loads(e.removeprefix(b"data: ")) for e in events]
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == FIM_TEXT
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == usage
    assert usage["completion_tokens"] > 0


def test_dicts_for_the_proxy(endpoints: Endpoints) -> None:
    answer = endpoints.call("text_completion_dict", CODESTRAL, [PROMPT])  # LangChain's list
    assert answer["choices"][0]["text"] == FIM_TEXT
    chunks, _ = endpoints.call("text_completion_dict", CODESTRAL, PROMPT, stream=True)
    assert all(c["object"] == "text_completion" for c in chunks)


def test_the_module_functions(mistral_env: FakeMistral) -> None:
    assert gatewise.text_completion(CODESTRAL, PROMPT).choices[0].text == FIM_TEXT

    async def run() -> Any:
        try:
            return await gatewise.atext_completion(model=CODESTRAL, prompt=PROMPT, suffix="x")
        finally:
            await _api.default_async_client().aclose()
    assert asyncio.run(run()).choices[0].text == FIM_TEXT
    assert inspect.signature(_api.text_completion).parameters == inspect.signature(
        _api.atext_completion).parameters


def test_a_model_without_fim_is_refused_before_any_call(endpoints: Endpoints) -> None:
    for model in ("mistral/mistral-small-latest", "mistral/mistral-embed"):
        with pytest.raises(BadRequestError) as caught:
            endpoints.call("text_completion", model, PROMPT)
        assert caught.value.param == "model" and caught.value.code == "model_mode_mismatch"
        assert "codestral" in caught.value.message
    assert endpoints.fake.requests == []


def test_a_model_the_catalogue_does_not_know_is_tried(endpoints: Endpoints) -> None:
    with pytest.raises(BadRequestError, match="Invalid model"):  # Mistral's answer
        endpoints.call("text_completion", "mistral/codestral-2405-ft", PROMPT)
    response = endpoints.call("text_completion", "mistral/codestral-2405", PROMPT)
    assert response.choices[0].text == FIM_TEXT


def test_unsupported_parameters_are_refused_or_dropped(endpoints: Endpoints) -> None:
    with pytest.raises(UnsupportedParamsError) as caught:
        endpoints.call("text_completion", CODESTRAL, PROMPT, logprobs=1, echo=True)
    assert caught.value.param == "logprobs, echo"
    assert endpoints.fake.requests == []
    response = endpoints.call("text_completion", CODESTRAL, PROMPT, logprobs=1, echo=True,
                              best_of=2, drop_params=True)
    assert response.choices[0].text == FIM_TEXT
    assert endpoints.last_body() == {"model": "codestral-latest", "prompt": PROMPT}


def test_a_field_the_schema_does_not_allow_gets_a_422_naming_it(endpoints: Endpoints) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        endpoints.call("text_completion", CODESTRAL, PROMPT, extra_body={"bogus": 1})
    assert "body.bogus: Extra inputs are not permitted" in caught.value.message


@pytest.mark.parametrize(("behavior", "error"), [
    (Status(429, headers={"Retry-After": "0"}), RateLimitError),
    (Status(500), InternalServerError),
    (Status(400, {"object": "error", "message": "Prompt contains 300000 tokens, too large "
                  "for model with 256000 maximum context length", "type": "x", "param": None,
                  "code": "3051"}), gatewise.ContextWindowExceededError),
])
def test_upstream_errors_are_typed(endpoints: Endpoints, behavior: Status,
                                   error: type[Exception]) -> None:
    endpoints.fake.script(behavior)
    with pytest.raises(error):
        endpoints.call("text_completion", CODESTRAL, PROMPT, num_retries=0)


def test_errors_are_retried_like_chat(endpoints: Endpoints) -> None:
    endpoints.fake.script(Status(503), Status(429, headers={"Retry-After": "0"}))
    assert endpoints.call("text_completion", CODESTRAL, PROMPT).choices[0].text == FIM_TEXT
    assert len(endpoints.fake.requests) == 3


def test_a_timeout_is_a_timeout(endpoints: Endpoints) -> None:
    endpoints.fake.script(Delay(2))
    with pytest.raises(APITimeoutError):
        endpoints.call("text_completion", CODESTRAL, PROMPT, timeout=0.3, num_retries=0)


def test_a_stream_cut_mid_way_raises(endpoints: Endpoints) -> None:
    endpoints.fake.script(CutStream(after_events=2))
    with pytest.raises(APIConnectionError):
        endpoints.call("text_completion", CODESTRAL, PROMPT, stream=True, num_retries=0)


def test_mock_response(endpoints: Endpoints) -> None:
    response = endpoints.call("text_completion", CODESTRAL, PROMPT, mock_response="pass")
    assert response.choices[0].text == "pass" and response.usage.total_tokens > 0
    chunks, _ = endpoints.call("text_completion", CODESTRAL, PROMPT, stream=True,
                               mock_response="return a + b")
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "return a + b"
    with pytest.raises(RateLimitError):
        endpoints.call("text_completion", CODESTRAL, PROMPT, mock_response=RateLimitError)
    assert endpoints.fake.requests == []
