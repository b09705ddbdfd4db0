"""Mistral's own API through gatewise: the body goes as it came (model replaced), and a
stream's events come back as Mistral sent them, only usage, errors and the end decoded."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewise._exceptions import BadRequestError, InternalServerError
from gatewise._relay import SseRelay
from gatewise.providers.mistral import build_native_body, native_stream_translator

USAGE = {"prompt_tokens": 3, "total_tokens": 8, "completion_tokens": 5,
         "prompt_tokens_details": {"cached_tokens": 0}, "service_tier": "standard"}


def test_the_body_goes_as_it_came_with_the_deployments_model() -> None:
    body = {"prompt": "def", "model": "what-the-client-said", "bogus": 1}
    assert build_native_body("codestral-2508", "/fim/completions", body, stream=False) == {
        "model": "codestral-2508", "prompt": "def", "bogus": 1}
    assert build_native_body("c", "/fim/completions", {"prompt": "d"}, stream=True)[
        "stream"] is True


@pytest.mark.parametrize(("endpoint", "stream", "param"), [
    ("/chat/completions", False, "endpoint"), ("/files", False, "endpoint"),
    ("/classifications", True, "stream"), ("/chat/moderations", True, "stream"),
])
def test_what_cannot_go_is_refused(endpoint: str, stream: bool, param: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        build_native_body("m", endpoint, {"input": "x"}, stream=stream)
    assert caught.value.param == param


def events(texts: list[str]) -> bytes:
    head = {"id": "abc", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunks = [{**head, "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None,
                                    "logprobs": None}], "p": "abcdef"} for t in texts]
    chunks.append({**head, "choices": [{"index": 0, "delta": {"content": ""},
                                        "finish_reason": "stop"}], "usage": USAGE})
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def relayed(reads: list[bytes]) -> tuple[bytes, Any]:
    translator = native_stream_translator("m", {})
    relay = SseRelay(translator)
    out = b"".join(b"".join(relay.feed(read)) for read in reads)
    assert relay.done
    return out + b"".join(relay.finish()), relay.usage


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(max_size=8), max_size=10),
       size=st.integers(min_value=1, max_value=300))
def test_events_pass_as_they_are_and_usage_is_read(texts: list[str], size: int) -> None:
    data = events(texts)
    out, usage = relayed([data[i:i + size] for i in range(0, len(data), size)])
    assert out == data[:-len(b"data: [DONE]\n\n")]  # byte for byte (the relay adds [DONE])
    assert usage == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8,
                     "prompt_tokens_details": {"cached_tokens": 0}}


def test_only_the_marked_events_are_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    translator = native_stream_translator("m", {})
    fed: list[dict[str, Any]] = []
    real = translator.feed

    def spy(event: dict[str, Any]) -> list[dict[str, Any]]:
        fed.append(event)
        return real(event)

    monkeypatch.setattr(translator, "feed", spy)
    relay = SseRelay(translator)
    relay.feed(events([f"w{i}" for i in range(50)]))
    assert len(fed) == 1 and "usage" in fed[0]


def test_an_error_event_ends_the_stream_with_an_error() -> None:
    data = events(["a", "b"]).split(b"data: [DONE]")[0]
    error = b'data: {"object":"error","message":"overloaded","type":"x","code":"1"}\n\n'
    relay = SseRelay(native_stream_translator("m", {}))
    assert b"".join(relay.feed(data + error)) == data  # what came before goes out first
    with pytest.raises(InternalServerError, match="overloaded"):
        relay.feed(b"")
