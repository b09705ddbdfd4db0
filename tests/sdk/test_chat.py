"""Chat completions through the public API against the strict fake, sync and async."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import gatewise
from gatewise import UnsupportedParamsError
from tests._net import refused_port
from tests.fake_mistral import FakeMistral
from tests.sdk.conftest import SDK

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


def test_response_is_openai_shaped(sdk: SDK) -> None:
    response = sdk.completion()
    assert response.object == "chat.completion"
    assert re.fullmatch(r"[0-9a-f]{32}", response.id)
    assert isinstance(response.created, int)
    assert response.model == "mistral-small-latest"
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Hello from the fake Mistral server."
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert response.usage is not None
    assert response.usage.total_tokens == (response.usage.prompt_tokens
                                           + response.usage.completion_tokens) > 0
    dumped = response.model_dump()
    assert dumped["choices"][0]["message"]["content"] == choice.message.content
    assert json.loads(response.model_dump_json())["id"] == response.id
    assert "Hello from the fake Mistral server." in str(response)


def test_cost_comes_from_the_catalogue(sdk: SDK) -> None:
    response = sdk.completion()
    assert response.usage is not None
    expected = (response.usage.prompt_tokens * 1.5e-07
                + response.usage.completion_tokens * 6e-07)
    assert response.cost == pytest.approx(expected)


def test_openai_params_are_translated_on_the_wire(sdk: SDK) -> None:
    sdk.completion(max_completion_tokens=50, seed=7, temperature=0.2, top_p=0.9, stop=["\n"],
                   presence_penalty=0.1, frequency_penalty=0.2, n=1, user="u-1", store=True,
                   response_format={"type": "json_object"}, metadata={"k": "v"},
                   safe_prompt=True, prompt_cache_key="pc")
    body = sdk.last_body()
    assert body["max_tokens"] == 50
    assert body["random_seed"] == 7
    for absent in ("max_completion_tokens", "seed", "user", "store"):
        assert absent not in body
    assert body["safe_prompt"] is True
    assert body["metadata"] == {"k": "v"}
    assert None not in body.values()


def test_unset_params_are_never_sent_as_null(sdk: SDK) -> None:
    sdk.completion(temperature=None, top_p=None, tools=None, max_tokens=None)
    assert set(sdk.last_body()) == {"model", "messages"}


def test_tool_calling_round_trip(sdk: SDK) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris?"}]
    response = sdk.completion(messages=messages, tools=[WEATHER_TOOL], tool_choice="required")
    assert sdk.last_body()["tool_choice"] == "any"
    assert "$schema" not in json.dumps(sdk.last_body()["tools"])
    message = response.choices[0].message
    assert response.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments), dict)
    assert re.fullmatch(r"[A-Za-z0-9]{9}", call.id)
    messages += [message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "18C, sunny"}]
    final = sdk.completion(messages=messages, tools=[WEATHER_TOOL])
    assert final.choices[0].message.content


def test_histories_other_gateways_mint_are_accepted(sdk: SDK) -> None:
    """OpenAI/Anthropic tool-call ids, `name` on user messages, a user turn right after a
    tool turn, extras next to an image, a developer message: all fine on the wire."""
    messages = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "name": "bob", "content": [
            {"type": "text", "text": "What's this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=",
                                                "detail": "high"}},
        ]},
        {"role": "assistant", "content": None, "reasoning_content": "hmm",
         "tool_calls": [{"id": "call_abc123XYZ789defGHI", "type": "function", "index": 0,
                         "function": {"name": "get_weather",
                                      "arguments": '{"location": "Paris"}'}},
                        {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
                         "function": {"name": "get_weather",
                                      "arguments": {"location": "Lyon"}}}]},
        {"role": "tool", "tool_call_id": "call_abc123XYZ789defGHI", "name": "get_weather",
         "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "20C"},
        {"role": "user", "name": "bob", "content": "thanks, and tomorrow?"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "?"},
    ]
    response = sdk.completion(messages=messages, tools=[WEATHER_TOOL])
    assert response.choices[0].message.content
    sent = sdk.last_body()["messages"]
    ids = [c["id"] for c in sent[2]["tool_calls"]]
    assert [m["tool_call_id"] for m in sent if m["role"] == "tool"] == ids


def test_trailing_assistant_is_a_prefix_and_kept_in_the_answer(sdk: SDK) -> None:
    messages = [{"role": "user", "content": "Write a haiku"},
                {"role": "assistant", "content": "Autumn moon:"}]
    response = sdk.completion(messages=messages)
    assert sdk.last_body()["messages"][-1] == {"role": "assistant", "content": "Autumn moon:",
                                               "prefix": True}
    assert response.choices[0].message.content is not None
    assert response.choices[0].message.content.startswith("Autumn moon:")


def test_unsupported_params_fail_before_the_network(sdk: SDK, fake_mistral: FakeMistral
                                                     ) -> None:
    with pytest.raises(UnsupportedParamsError, match="logit_bias"):
        sdk.completion(logit_bias={"1": 5})
    assert fake_mistral.requests == []
    sdk.completion(logit_bias={"1": 5}, drop_params=True)
    assert "logit_bias" not in sdk.last_body()


def test_legacy_functions_become_tools(sdk: SDK) -> None:
    response = sdk.completion(functions=[WEATHER_TOOL["function"]],
                              function_call={"name": "get_weather"})
    body = sdk.last_body()
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert response.choices[0].message.tool_calls


def test_key_and_base_from_the_environment(fake_mistral: FakeMistral,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", "test-key")
    monkeypatch.setenv("MISTRAL_API_BASE", fake_mistral.base_url)
    response = gatewise.completion(model="mistral/mistral-small-latest",
                                   messages=[{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content  # type: ignore[union-attr]
    assert fake_mistral.requests[-1].headers["Authorization"] == "Bearer test-key"


def test_a_client_reads_the_environment_again_when_it_changes(
        fake_mistral: FakeMistral, monkeypatch: pytest.MonkeyPatch) -> None:
    # A client memoises where each model's calls go (key, URL, headers): a changed
    # variable must still take effect on the next call, and a catalogue entry registered
    # later must price the next answer.
    fake_mistral.api_keys |= {"first-key", "second-key", "per-call-key"}
    monkeypatch.setenv("MISTRAL_API_KEY", "first-key")
    monkeypatch.setenv("MISTRAL_API_BASE", fake_mistral.base_url)
    catalogue = gatewise.Catalogue()
    client = gatewise.Client(catalogue=catalogue)
    hi = [{"role": "user", "content": "hi"}]
    first = client.completion("mistral/mistral-small-latest", hi)
    assert fake_mistral.requests[-1].headers["Authorization"] == "Bearer first-key"
    monkeypatch.setenv("MISTRAL_API_KEY", "second-key")
    client.completion("mistral/mistral-small-latest", hi)
    assert fake_mistral.requests[-1].headers["Authorization"] == "Bearer second-key"
    client.completion("mistral/mistral-small-latest", hi, api_key="per-call-key")
    assert fake_mistral.requests[-1].headers["Authorization"] == "Bearer per-call-key"
    monkeypatch.delenv("MISTRAL_API_KEY")
    with pytest.raises(gatewise.AuthenticationError, match="MISTRAL_API_KEY"):
        client.completion("mistral/mistral-small-latest", hi)
    catalogue.register("mistral/mistral-small-latest", input_cost_per_token=1.0,
                       output_cost_per_token=0.0)
    priced = client.completion("mistral/mistral-small-latest", hi, api_key="per-call-key")
    assert priced.usage is not None and first.usage is not None
    assert priced.cost == pytest.approx(priced.usage.prompt_tokens * 1.0)
    assert first.cost != priced.cost


def test_a_memoised_target_does_not_skip_the_checks_of_an_equal_option() -> None:
    client = gatewise.Client(api_key="k", api_base=f"http://127.0.0.1:{refused_port()}")
    hi = [{"role": "user", "content": "hi"}]
    with pytest.raises(gatewise.APIConnectionError):  # memoises the target for num_retries=0
        client.completion("mistral/mistral-small-latest", hi, num_retries=0)
    for equal in (0.0, False):  # equal to 0, but not an integer count
        with pytest.raises(gatewise.BadRequestError, match="num_retries"):
            client.completion("mistral/mistral-small-latest", hi, num_retries=equal)


async def test_acompletion_module_function(fake_mistral: FakeMistral,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", "test-key")
    monkeypatch.setenv("MISTRAL_API_BASE", fake_mistral.base_url)
    response = await gatewise.acompletion(model="mistral/mistral-small-latest",
                                          messages=[{"role": "user", "content": "hi"}])
    assert isinstance(response, gatewise.ModelResponse)
    stream = await gatewise.acompletion(model="mistral/mistral-small-latest", stream=True,
                                        messages=[{"role": "user", "content": "hi"}])
    assert [c async for c in stream]  # type: ignore[union-attr]
    await gatewise._api.default_async_client().aclose()


def test_missing_key_fails_before_the_network(fake_mistral: FakeMistral,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    client = gatewise.Client(api_base=fake_mistral.base_url)
    with pytest.raises(gatewise.AuthenticationError, match="MISTRAL_API_KEY"):
        client.completion("mistral/mistral-small-latest", [{"role": "user", "content": "x"}])
    assert fake_mistral.requests == []


def test_extra_headers_reach_the_upstream(sdk: SDK, fake_mistral: FakeMistral) -> None:
    sdk.defaults["extra_headers"] = {"X-Team": "blue"}
    sdk.completion(extra_headers={"X-Trace": "t1"})
    headers = fake_mistral.requests[-1].headers
    assert headers["X-Team"] == "blue"
    assert headers["X-Trace"] == "t1"
    sdk.completion(extra_headers={"X-Trace": "t2"})  # the client memoises targets by them
    assert fake_mistral.requests[-1].headers["X-Trace"] == "t2"


@pytest.mark.parametrize("model", ["mistral-small-latest", "openai/gpt-4o", "", "mistral/"])
def test_bad_model_strings_are_clear(sdk: SDK, model: str) -> None:
    with pytest.raises(gatewise.BadRequestError, match="provider"):
        sdk.completion(model=model)


def test_api_key_never_in_reprs() -> None:
    client = gatewise.Client(api_key="sk-very-secret-123")
    assert "sk-very-secret-123" not in repr(client)
    assert "sk-very-secret-123" not in repr(gatewise.AsyncClient(api_key="sk-very-secret-123"))
    from gatewise._target import Settings, Targets

    target = Targets().get(Settings(), gatewise.Catalogue(), "mistral/mistral-small-latest",
                           {"api_key": "sk-very-secret-123"})
    assert target.headers["Authorization"] == "Bearer sk-very-secret-123"
    assert "sk-very-secret-123" not in repr(target)
