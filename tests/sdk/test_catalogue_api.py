"""The catalogue through the public API: every required model works and has facts."""

from __future__ import annotations

import pytest

import gatewise
from gatewise import Catalogue, ContextWindowExceededError
from tests.fake_mistral import FakeMistral, Status
from tests.sdk.conftest import SDK

REQUIRED_CHAT = [
    "mistral-tiny", "mistral-small-latest", "mistral-medium-latest", "mistral-large-2407",
    "mistral-large-latest", "magistral-small-2506", "magistral-medium-2506", "open-mistral-7b",
    "open-mixtral-8x7b", "open-mixtral-8x22b", "codestral-latest", "open-mistral-nemo",
    "open-mistral-nemo-2407", "open-codestral-mamba", "codestral-mamba-latest",
]


@pytest.mark.parametrize("model", REQUIRED_CHAT)
def test_required_chat_models_work_and_have_facts(sdk: SDK, model: str) -> None:
    info = gatewise.get_model_info(f"mistral/{model}")
    assert info.known
    assert info.mode == "chat"
    assert info.max_input_tokens and info.input_cost_per_token is not None
    response = sdk.completion(model=f"mistral/{model}")
    assert response.choices[0].message.content
    assert response.cost is not None and response.cost > 0


def test_required_embedding_model_works_and_has_facts(sdk: SDK) -> None:
    info = gatewise.get_model_info("mistral/mistral-embed")
    assert info.mode == "embedding"
    assert info.embedding_dimensions == 1024
    assert sdk.embedding(model="mistral/mistral-embed", input=["x"]).data


def test_list_models_filters() -> None:
    embeddings = gatewise.list_models(mode="embedding")
    assert {"mistral-embed", "codestral-embed"} <= {m.model for m in embeddings}
    assert all(m.mode == "embedding" for m in embeddings)
    assert len(gatewise.list_models(provider="mistral")) >= 16


def test_unknown_models_are_sent_as_given(fake_mistral: FakeMistral) -> None:
    info = gatewise.get_model_info("mistral/my-brand-new-model")
    assert not info.known
    client = gatewise.Client(api_key="test-key", api_base=fake_mistral.base_url)
    with pytest.raises(gatewise.BadRequestError, match="Invalid model"):
        client.completion("mistral/my-brand-new-model", [{"role": "user", "content": "x"}])
    assert fake_mistral.requests[-1].json["model"] == "my-brand-new-model"


def test_registered_price_changes_the_cost(fake_mistral: FakeMistral) -> None:
    catalogue = Catalogue()
    catalogue.register("mistral/mistral-small-latest", input_cost_per_token=1.0,
                       output_cost_per_token=0.0)
    client = gatewise.Client(api_key="test-key", api_base=fake_mistral.base_url,
                             catalogue=catalogue)
    response = client.completion("mistral/mistral-small-latest",
                                 [{"role": "user", "content": "x"}])
    assert response.usage is not None
    assert response.cost == response.usage.prompt_tokens
    assert gatewise.get_model_info("mistral/mistral-small-latest").input_cost_per_token == 1.5e-7


def test_completion_cost_matches_response_cost(sdk: SDK) -> None:
    response = sdk.completion()
    assert gatewise.completion_cost(response) == pytest.approx(response.cost)
    rebuilt = gatewise.stream_chunk_builder(sdk.stream())
    assert rebuilt.cost == pytest.approx(response.cost)


def test_token_counter() -> None:
    short = gatewise.token_counter(model="mistral/mistral-small-latest", text="hello")
    long = gatewise.token_counter(model="mistral/mistral-small-latest", text="hello " * 100)
    chat = gatewise.token_counter(model="mistral/mistral-small-latest",
                                  messages=[{"role": "user", "content": "hello"}])
    assert 0 < short < long
    assert chat > short


def test_oversized_prompt_fails_before_the_network(sdk: SDK, fake_mistral: FakeMistral
                                                    ) -> None:
    huge = [{"role": "user", "content": "word " * 200_000}]  # ~250k tokens > 32k window
    with pytest.raises(ContextWindowExceededError, match="context window"):
        sdk.completion(model="mistral/open-mistral-7b", messages=huge)
    with pytest.raises(ContextWindowExceededError):
        sdk.completion(model="mistral/open-mistral-7b", max_tokens=40_000)
    assert fake_mistral.requests == []


def test_upstream_overflow_errors_are_mapped(sdk: SDK, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(Status(400, body={
        "object": "error", "type": "invalid_request_error", "param": None, "code": None,
        "message": "Prompt contains 40000 tokens and 0 draft tokens, too large for model "
                   "with 32768 maximum context length"}))
    with pytest.raises(ContextWindowExceededError):
        sdk.completion(model="mistral/open-mistral-7b")
