"""Token counting: the estimate's behaviour, the mistral-common path (with a stand-in
package, as mistral-common is optional and not installed for the tests), fits_context."""

from __future__ import annotations

import sys
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewise.catalogue import (
    Catalogue,
    ModelInfo,
    TokenCount,
    TokenizerCache,
    count_tokens,
    fits_context,
    token_counter,
    tokens,
)
from gatewise.catalogue.tokens import MEDIA_TOKENS, estimate_prompt_tokens

SMALL = "mistral/mistral-small-latest"
SAMPLE = [  # mistral-api.md §13: 20 tokens with the v3 template, 22 with v7+
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Who is the best French painter? Answer in one short sentence."},
]


@pytest.fixture(autouse=True)
def no_mistral_common(monkeypatch: pytest.MonkeyPatch) -> None:
    """Estimates are tested as when mistral-common is absent, even where it is installed,
    with a fresh tokenizer cache so the shared one never remembers this absence."""
    for name in [n for n in sys.modules if n.startswith("mistral_common.")]:
        monkeypatch.setitem(sys.modules, name, None)  # an import made earlier must not count
    monkeypatch.setitem(sys.modules, "mistral_common", None)
    fresh = TokenizerCache()
    monkeypatch.setattr(tokens, "_default_tokenizers", lambda: fresh)


def test_estimate_of_the_reference_sample() -> None:
    count = count_tokens(model=SMALL, messages=SAMPLE)
    assert count == TokenCount(25, exact=False)
    assert token_counter(model=SMALL, messages=SAMPLE) == 25
    assert token_counter(model=SMALL, text="Who is the best French painter?") == 8  # real: 7


@given(st.text(), st.text())
def test_estimate_grows_with_the_text(a: str, b: str) -> None:
    assert token_counter(model=SMALL, text=a) <= token_counter(model=SMALL, text=a + b)


@given(st.text(min_size=1))
def test_non_empty_text_counts(text: str) -> None:
    assert token_counter(model=SMALL, text=text) >= 1


def test_empty_inputs() -> None:
    assert token_counter(model=SMALL) == 0
    assert token_counter(model=SMALL, text="") == 0
    assert token_counter(model=SMALL, messages=[]) == 1  # the template's BOS


def test_messages_cost_more_than_their_text() -> None:
    text = "".join(m["content"] for m in SAMPLE)
    assert token_counter(model=SMALL, messages=SAMPLE) > token_counter(model=SMALL, text=text)
    one = [{"role": "user", "content": "hello there"}]
    assert token_counter(model=SMALL, messages=one + one) > token_counter(model=SMALL,
                                                                          messages=one)


def test_tools_tool_calls_media_and_chunks_count() -> None:
    base = [{"role": "user", "content": "What is the weather in Paris?"}]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    plain = token_counter(model=SMALL, messages=base)
    assert token_counter(model=SMALL, messages=base, tools=tools) > plain + 10
    call = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "abcDEF123", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}
    assert token_counter(model=SMALL, messages=[*base, call]) > plain + 2 + 5
    image = [{"role": "user", "content": [
        {"type": "text", "text": "What is the weather in Paris?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 100_000}}]}]
    assert token_counter(model=SMALL, messages=image) == plain + MEDIA_TOKENS
    thinking = [{"role": "assistant", "content": [
        {"type": "thinking", "thinking": [{"type": "text", "text": "x " * 400}]},
        {"type": "text", "text": "ok"}]}]
    assert token_counter(model=SMALL, messages=thinking) > 200


def test_scripts_count_differently() -> None:
    ascii_text = "a" * 300
    assert token_counter(model=SMALL, text=ascii_text) == 75
    assert token_counter(model=SMALL, text="日" * 300) == 200
    assert token_counter(model=SMALL, text="д" * 300) == 100


def test_unknown_model_is_estimated() -> None:
    assert count_tokens(model="acme/x", text="hello world") == TokenCount(3, exact=False)


# -- with mistral-common (a stand-in with its interface) ---------------------------------


class _RawTokenizer:
    def encode(self, text: str, bos: bool, eos: bool) -> list[int]:
        assert (bos, eos) == (False, False)
        return [0] * len(text.split())


class _FakeTokenizer:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.instruct_tokenizer = SimpleNamespace(tokenizer=_RawTokenizer())

    def encode_chat_completion(self, request: Any) -> Any:
        if request.messages[-1]["role"] != "user":
            raise ValueError("expected last message to be user")
        words = sum(len(str(m["content"]).split()) for m in request.messages)
        return SimpleNamespace(tokens=[0] * (words + 3))


@pytest.fixture
def fake_mistral_common(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    loads: list[str] = []

    class MistralTokenizer:
        @staticmethod
        def v3(is_tekken: bool = False, is_mm: bool = False) -> _FakeTokenizer:
            loads.append(f"v3 tekken={is_tekken}")
            return _FakeTokenizer("v3")

        @staticmethod
        def v1() -> _FakeTokenizer:
            loads.append("v1")
            raise ImportError("sentencepiece is not installed")

    class ChatCompletionRequest:
        def __init__(self, messages: list[dict[str, Any]], tools: Any) -> None:
            self.messages, self.tools = messages, tools

        @classmethod
        def from_openai(cls, messages: list[dict[str, Any]], tools: Any = None,
                        ) -> ChatCompletionRequest:
            return cls(messages, tools)

    class MistralCommonException(Exception):
        pass

    modules = {
        "mistral_common": ModuleType("mistral_common"),
        "mistral_common.exceptions": ModuleType("mistral_common.exceptions"),
        "mistral_common.tokens": ModuleType("mistral_common.tokens"),
        "mistral_common.tokens.tokenizers": ModuleType("mistral_common.tokens.tokenizers"),
        "mistral_common.tokens.tokenizers.mistral": ModuleType(
            "mistral_common.tokens.tokenizers.mistral"),
        "mistral_common.protocol": ModuleType("mistral_common.protocol"),
        "mistral_common.protocol.instruct": ModuleType("mistral_common.protocol.instruct"),
        "mistral_common.protocol.instruct.request": ModuleType(
            "mistral_common.protocol.instruct.request"),
    }
    modules["mistral_common.exceptions"].MistralCommonException = (  # type: ignore[attr-defined]
        MistralCommonException)
    modules["mistral_common.tokens.tokenizers.mistral"].MistralTokenizer = (  # type: ignore[attr-defined]
        MistralTokenizer)
    modules["mistral_common.protocol.instruct.request"].ChatCompletionRequest = (  # type: ignore[attr-defined]
        ChatCompletionRequest)
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return loads


def test_exact_with_a_bundled_tokenizer(fake_mistral_common: list[str]) -> None:
    cache = TokenizerCache()
    nemo = "mistral/open-mistral-nemo"
    count = count_tokens(model=nemo, messages=SAMPLE, tokenizers=cache)
    assert count == TokenCount(3 + 14, exact=True)  # the template's own count
    assert count_tokens(model=nemo, text="one two three", tokenizers=cache) == TokenCount(
        3, exact=True)
    # the validator refuses this history: counted piece by piece, no longer exact
    history = [*SAMPLE, {"role": "assistant", "content": "Monet."}]
    assert count_tokens(model=nemo, messages=history, tokenizers=cache) == TokenCount(
        1 + (2 + 3) + (2 + 11) + (2 + 1), exact=False)
    # media never go through mistral-common (it would fetch image URLs)
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    assert count_tokens(model=nemo, messages=image, tokenizers=cache) == TokenCount(
        1 + 2 + MEDIA_TOKENS, exact=False)
    assert fake_mistral_common == ["v3 tekken=True"]  # loaded once


def test_newer_tekken_models_use_the_bundled_one_as_a_stand_in(
        fake_mistral_common: list[str]) -> None:
    cache = TokenizerCache()
    count = count_tokens(model=SMALL, messages=SAMPLE, tokenizers=cache)
    assert count == TokenCount(1 + (2 + 3) + (2 + 11), exact=False)
    assert count_tokens(model=SMALL, text="one two", tokenizers=cache) == TokenCount(2, False)
    assert fake_mistral_common == ["v3 tekken=True"]


def test_a_tokenizer_that_cannot_load_falls_back_once(fake_mistral_common: list[str]) -> None:
    cache = TokenizerCache()
    embed = "mistral/mistral-embed"  # SentencePiece v1: needs `sentencepiece`
    for _ in range(3):
        assert count_tokens(model=embed, text="a" * 40, tokenizers=cache) == TokenCount(10)
    assert fake_mistral_common == ["v1"]


def test_without_mistral_common_the_cache_remembers_the_failure() -> None:
    cache = TokenizerCache()
    assert cache.get("v3-tekken") is None
    assert cache.get("unknown-kind") is None
    assert count_tokens(model="mistral/open-mistral-nemo", text="abcd",
                        tokenizers=cache) == TokenCount(1, exact=False)


# -- fits_context ------------------------------------------------------------------------


def test_fits_context_refuses_only_clear_overflows() -> None:
    info = ModelInfo(provider="acme", model="m", max_input_tokens=1000)
    assert fits_context(info, 900, 100)
    assert fits_context(info, 1100)  # an estimate 15% high would still fit
    assert fits_context(info, 1000, 150)  # 850 + 150
    assert not fits_context(info, 1000, 151)
    assert not fits_context(info, 1200)
    assert fits_context(info, TokenCount(1000, exact=True))
    assert not fits_context(info, TokenCount(1001, exact=True))
    assert not fits_context(info, TokenCount(900, exact=True), 101)
    assert not fits_context(info, 1001, exact=True)
    assert fits_context(info, TokenCount(1100, exact=False))
    assert fits_context(ModelInfo(provider="acme", model="m"), 10**9, 10**9)


def test_fits_context_with_catalogue_windows() -> None:
    catalogue = Catalogue()
    tiny = catalogue.get("mistral/mistral-tiny")
    prompt = count_tokens(model="mistral/mistral-tiny", text="word " * 40_000,
                          catalogue=catalogue)
    assert not fits_context(tiny, prompt, 1000)
    assert fits_context(catalogue.get("mistral/mistral-small-latest"), prompt, 1000)


def test_values_json_cannot_carry_are_still_counted() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"max": 2**70}}}]
    assert token_counter(model=SMALL, messages=[{"role": "user", "content": "x"}],
                         tools=tools) > 0


_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)
_MESSAGE = st.one_of(
    st.builds(lambda r, t: {"role": r, "content": t}, st.sampled_from(["system", "user"]), _TEXT),
    st.builds(lambda t, a: {"role": "assistant", "content": t, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": a}}]},
        _TEXT, _TEXT),
    st.builds(lambda t: {"role": "tool", "content": t, "tool_call_id": "c1", "name": "f"},
              _TEXT),
)


@given(st.lists(_MESSAGE, min_size=1, max_size=6))
def test_the_estimate_never_exceeds_the_bodys_size(messages: list[dict[str, Any]]) -> None:
    """What lets ``prepare_chat`` skip the estimate for a body that fits by its size:
    without typed (media) parts, the estimate is at most the Mistral body's byte length."""
    from gatewise._prepare import encode_body
    from gatewise.providers.mistral.chat import build_chat_body

    body = encode_body(build_chat_body("mistral-small-latest", messages, {}))
    assert b'"type":"' not in body or any(m.get("tool_calls") for m in messages)
    assert estimate_prompt_tokens(messages) <= len(body)
