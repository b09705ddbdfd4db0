"""Moderation and Mistral's native calls through the public API, sync and async, against
the strict fake: text and conversations, OpenAI's shape with Mistral's categories, cost,
typed errors; Mistral's own shape in and out for ``native``."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

import gatewise
from gatewise import (
    AuthenticationError,
    BadRequestError,
    ServiceUnavailableError,
    UnprocessableEntityError,
    _api,
)
from gatewise.types import ModerationResponse
from tests.fake_mistral import FakeMistral, Status
from tests.fake_mistral.classifiers import CATEGORIES
from tests.fake_mistral.server import FIM_TEXT
from tests.sdk._endpoints import CODESTRAL, MODERATION, Endpoints

CHAT = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "my passport"}]


@pytest.fixture(params=["sync", "async"])
def endpoints(request: pytest.FixtureRequest, fake_mistral: FakeMistral) -> Endpoints:
    return Endpoints(request.param, fake_mistral)


def test_texts_get_one_result_each(endpoints: Endpoints) -> None:
    response = endpoints.call("moderation", MODERATION, ["good morning", "I will kill you"])
    assert isinstance(response, ModerationResponse)
    assert endpoints.fake.requests[-1].path == "/v1/moderations"
    assert [r.flagged for r in response.results] == [False, True]
    violent = response.results[1]
    assert violent.categories["violence_and_threats"] is True  # Mistral's names, kept
    assert set(violent.category_scores) == set(CATEGORIES)
    assert violent.category_scores["violence_and_threats"] > 0.5
    assert response.model == "mistral-moderation-latest" and response.id


def test_a_conversation_goes_to_chat_moderations(endpoints: Endpoints) -> None:
    response = endpoints.call("moderation", MODERATION, CHAT)
    assert endpoints.fake.requests[-1].path == "/v1/chat/moderations"
    assert len(response.results) == 1 and response.results[0].categories["pii"] is True
    many = endpoints.call("moderation", MODERATION, [CHAT, [CHAT[0]]])
    assert [r.flagged for r in many.results] == [True, False]


def test_moderation_costs_what_the_catalogue_says(endpoints: Endpoints) -> None:
    assert endpoints.call("moderation", MODERATION, "hi").cost == 0.0  # free: priced at 0
    assert endpoints.call("moderation_dict", MODERATION, "hi")["results"][0]["flagged"] is False


def test_the_module_functions(mistral_env: FakeMistral) -> None:
    assert gatewise.moderation(MODERATION, "kill").results[0].flagged is True

    async def run() -> Any:
        try:
            return await gatewise.amoderation(model=MODERATION, input=["a", "b"])
        finally:
            await _api.default_async_client().aclose()
    assert len(asyncio.run(run()).results) == 2


def test_a_model_that_does_not_moderate_is_refused_before_any_call(endpoints: Endpoints
                                                                   ) -> None:
    with pytest.raises(BadRequestError) as caught:
        endpoints.call("moderation", "mistral/mistral-small-latest", "hi")
    assert caught.value.code == "model_mode_mismatch" and caught.value.param == "model"
    assert endpoints.fake.requests == []


def test_bad_input_is_named_before_any_call(endpoints: Endpoints) -> None:
    with pytest.raises(BadRequestError) as caught:
        endpoints.call("moderation", MODERATION, [CHAT, [{"role": "robot", "content": "x"}]])
    assert caught.value.param == "input[1][0].role"
    assert endpoints.fake.requests == []


def test_upstream_errors_are_typed(endpoints: Endpoints) -> None:
    endpoints.fake.script(Status(503))
    with pytest.raises(ServiceUnavailableError):
        endpoints.call("moderation", MODERATION, "hi", num_retries=0)
    endpoints.defaults["api_key"] = "sk-not-the-key"
    with pytest.raises(AuthenticationError) as caught:
        endpoints.call("moderation", MODERATION, "hi")
    assert "sk-not-the-key" not in str(caught.value)


def test_mock_response(endpoints: Endpoints) -> None:
    verdict = {"categories": {"pii": True}, "category_scores": {"pii": 0.9}}
    response = endpoints.call("moderation", MODERATION, ["a", "b"], mock_response=verdict)
    assert [r.flagged for r in response.results] == [True, True]
    assert endpoints.call("moderation", MODERATION, CHAT,
                          mock_response="ok").results[0].flagged is False
    assert endpoints.fake.requests == []


# -- Mistral's own shape in and out --------------------------------------------------------------

def test_native_classifications(endpoints: Endpoints) -> None:
    answer = endpoints.call("native", MODERATION, {"input": ["a", "b"]},
                            endpoint="/classifications")
    assert len(answer["results"]) == 2 and "scores" in answer["results"][0]["moderation"]
    answer = endpoints.call("native", MODERATION,
                            {"model": "ignored", "input": {"messages": CHAT}},
                            endpoint="/chat/classifications")
    assert endpoints.last_body()["model"] == "mistral-moderation-latest"
    assert len(answer["results"]) == 1
    answer = endpoints.call("native", MODERATION, {"input": CHAT}, endpoint="/chat/moderations")
    assert "flagged" not in answer["results"][0]  # Mistral's shape, untouched


def test_native_fim_non_stream_and_stream(endpoints: Endpoints) -> None:
    answer = endpoints.call("native", CODESTRAL, {"prompt": "def f(", "suffix": ")"},
                            endpoint="/fim/completions")
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == FIM_TEXT
    blocks, usage = endpoints.call("native", CODESTRAL, {"prompt": "def f(", "stream": True},
                                   endpoint="/fim/completions")
    events = [orjson.loads(e[6:]) for e in b"".join(blocks).split(b"\n\n") if e]
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events) == FIM_TEXT
    assert usage["total_tokens"] == events[-1]["usage"]["total_tokens"]


def test_native_bodies_meet_the_strict_schema(endpoints: Endpoints) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        endpoints.call("native", MODERATION, {"input": "x", "bogus": 1},
                       endpoint="/classifications")
    assert "body.bogus: Extra inputs are not permitted" in caught.value.message
    with pytest.raises(BadRequestError) as refused:
        endpoints.call("native", MODERATION, {"input": "x", "stream": True},
                       endpoint="/classifications")
    assert refused.value.param == "stream"
