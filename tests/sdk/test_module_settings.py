"""LiteLLM's module-level idiom: ``gatewise.drop_params``, ``gatewise.num_retries`` and
``gatewise.request_timeout`` are honoured by the module functions, read at each call; any
other attribute set on the module is an error saying what to do instead."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest

import gatewise
from gatewise._api import default_async_client
from tests.fake_mistral import Delay, FakeMistral, Status
from tests.sdk.conftest import HELLO, MODEL

LOGPROBS: dict[str, Any] = {"logprobs": True}  # a parameter Mistral cannot honour


@pytest.fixture(autouse=True)
def settings(monkeypatch: pytest.MonkeyPatch, fake_mistral: FakeMistral) -> Iterator[None]:
    monkeypatch.setenv("MISTRAL_API_KEY", "test-key")
    monkeypatch.setenv("MISTRAL_API_BASE", fake_mistral.base_url)
    yield
    gatewise.drop_params = False
    gatewise.num_retries = None
    gatewise.request_timeout = None


def in_a_loop(call: Coroutine[Any, Any, Any]) -> Any:
    """``call`` in a loop of its own, closing the default client's pool in it after."""
    async def run() -> Any:
        try:
            return await call
        finally:
            await default_async_client().aclose()
    return asyncio.run(run())


def chat(mode: str, **params: Any) -> Any:
    if mode == "sync":
        return gatewise.completion(MODEL, HELLO, **params)
    return in_a_loop(gatewise.acompletion(MODEL, HELLO, **params))


def embed(mode: str, **params: Any) -> Any:
    if mode == "sync":
        return gatewise.embedding("mistral/mistral-embed", "hi", **params)
    return in_a_loop(gatewise.aembedding("mistral/mistral-embed", "hi", **params))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_drop_params_is_honoured_at_each_call(mode: str) -> None:
    with pytest.raises(gatewise.UnsupportedParamsError):
        chat(mode, **LOGPROBS)
    gatewise.drop_params = True
    assert chat(mode, **LOGPROBS).choices[0].message.content
    assert embed(mode, dimensions=8).data  # mistral-embed cannot shorten its vectors
    with pytest.raises(gatewise.UnsupportedParamsError):
        chat(mode, drop_params=False, **LOGPROBS)  # the call's own argument wins
    gatewise.drop_params = False
    with pytest.raises(gatewise.UnsupportedParamsError):
        chat(mode, **LOGPROBS)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_num_retries_is_honoured(mode: str, fake_mistral: FakeMistral) -> None:
    failing = Status(503, body={"message": "busy"}, headers={"Retry-After": "0"})
    gatewise.num_retries = 0
    fake_mistral.script(failing, failing, failing)
    with pytest.raises(gatewise.ServiceUnavailableError):
        chat(mode)
    assert len(fake_mistral.requests) == 1
    gatewise.num_retries = 2
    fake_mistral.reset()
    fake_mistral.script(failing, failing)
    assert chat(mode).choices[0].message.content  # the third attempt is answered
    assert len(fake_mistral.requests) == 3
    fake_mistral.reset()
    fake_mistral.script(failing, failing)
    with pytest.raises(gatewise.ServiceUnavailableError):
        chat(mode, num_retries=1)  # the call's own argument wins
    assert len(fake_mistral.requests) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_request_timeout_is_honoured(mode: str, fake_mistral: FakeMistral) -> None:
    gatewise.request_timeout = 0.3
    fake_mistral.script(Delay(5))
    with pytest.raises(gatewise.APITimeoutError):
        chat(mode, num_retries=0)
    fake_mistral.script(Delay(0.5))
    assert chat(mode, num_retries=0, timeout=5).choices[0].message.content


def test_other_module_attributes_are_refused_with_the_way_to_go() -> None:
    for name in ("api_key", "api_base", "set_verbose", "drop_param", "timeout"):
        with pytest.raises(AttributeError) as info:
            setattr(gatewise, name, "x")
        message = str(info.value)
        assert f"gatewise has no setting {name!r}" in message
        assert "drop_params, num_retries, request_timeout" in message
        assert "gatewise.Client(api_key=..." in message
        assert not hasattr(gatewise, name)


@pytest.mark.parametrize(("name", "value"), [
    ("drop_params", "yes"), ("drop_params", 1), ("num_retries", -1), ("num_retries", 1.5),
    ("num_retries", True), ("request_timeout", 0), ("request_timeout", "30"),
    ("request_timeout", float("nan")), ("request_timeout", float("inf")),
])
def test_settings_are_checked_when_set(name: str, value: Any) -> None:
    before = getattr(gatewise, name)
    with pytest.raises((TypeError, ValueError), match=f"gatewise.{name} must be"):
        setattr(gatewise, name, value)
    assert getattr(gatewise, name) == before


def test_public_names_and_private_ones_can_still_be_replaced(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gatewise, "completion", lambda *a, **k: "patched")
    assert gatewise.completion(MODEL, HELLO) == "patched"
    monkeypatch.setattr(gatewise, "_private_for_a_test", 1, raising=False)
