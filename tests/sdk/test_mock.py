"""``mock_response``: the same types as a real call, and no network."""

from __future__ import annotations

import pytest

import gatewise
from tests.fake_mistral import FakeMistral
from tests.sdk.conftest import HELLO, MODEL, SDK


def test_string_mock(sdk: SDK, fake_mistral: FakeMistral) -> None:
    sdk.defaults.pop("api_key")
    response = sdk.completion(mock_response="canned")
    assert response.choices[0].message.content == "canned"
    assert fake_mistral.requests == []


def test_streamed_mock(sdk: SDK, fake_mistral: FakeMistral) -> None:
    chunks = sdk.stream(mock_response="a canned streamed answer")
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "a canned streamed answer")
    assert chunks[0].choices[0].delta.role == "assistant"
    assert fake_mistral.requests == []


def test_mock_chunks_are_replayed() -> None:
    chunks = [{"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"},
                            "finish_reason": "stop"}]}]
    streamed = list(gatewise.completion(MODEL, HELLO, stream=True, mock_response=chunks))
    assert streamed[0].choices[0].delta.content == "hi"
    whole = gatewise.completion(MODEL, HELLO, mock_response=chunks)
    assert whole.choices[0].message.content == "hi"  # type: ignore[union-attr]


@pytest.mark.parametrize("mock", [gatewise.RateLimitError("slow down"), gatewise.RateLimitError])
def test_mock_exception_is_raised(sdk: SDK, mock: object) -> None:
    with pytest.raises(gatewise.RateLimitError):
        sdk.completion(mock_response=mock)


def test_mock_still_checks_params(sdk: SDK) -> None:
    with pytest.raises(gatewise.UnsupportedParamsError):
        sdk.completion(mock_response="x", logit_bias={"1": 1})


def test_a_mocked_answer_costs_nothing(sdk: SDK) -> None:
    assert sdk.completion(mock_response="canned").cost == 0.0
    assert sdk.embedding(input=["a", "b"], mock_response=[0.1, 0.2]).cost == 0.0
