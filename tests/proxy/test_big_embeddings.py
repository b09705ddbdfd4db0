"""Embeddings a single client could make expensive: at most 2,048 inputs a request, and a big
answer relayed as the upstream's own bytes, in pieces (no float is decoded on the way).

The real CLI in a subprocess against the fake Mistral server, driven by the ``openai``
package; the memory hand-back (``gatewise.proxy._memory``) with a stand-in C library.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

import gatewise
from gatewise.proxy import _memory
from tests.fake_mistral import FakeMistral
from tests.proxy._server import Proxy, client, run_proxy_with


@pytest.fixture(scope="module")
def proxy(_fake_server: FakeMistral, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Proxy]:
    config = {"model_list": [{"model_name": "embed", "litellm_params": {
        "model": "mistral/mistral-embed", "api_key": "test-key",
        "api_base": _fake_server.base_url}}]}
    with run_proxy_with(config, tmp_path_factory.mktemp("embed")) as server:
        yield server


def test_more_than_2048_inputs_are_refused_before_any_upstream_call(
        proxy: Proxy, fake_mistral: FakeMistral) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client(proxy).embeddings.create(model="embed", input=["hello world"] * 5000)
    error: Any = info.value.body
    assert error["param"] == "input" and "5000" in error["message"]
    assert fake_mistral.requests == []
    client(proxy).embeddings.create(model="embed", input=["hello world"] * 2048)  # the limit


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_a_big_answer_reads_exactly_as_the_upstreams(proxy: Proxy, fake_mistral: FakeMistral,
                                                     encoding: str) -> None:
    inputs = [f"text number {i}" for i in range(1100)]  # three requests upstream
    answer = client(proxy).embeddings.create(model="embed", input=inputs,
                                             encoding_format=encoding)  # type: ignore[arg-type]
    assert len(fake_mistral.requests) == 3
    assert [d.index for d in answer.data] == list(range(1100))
    with gatewise.Client(api_key="test-key", api_base=fake_mistral.base_url) as sdk:
        expected = sdk.embedding("mistral/mistral-embed", inputs, encoding_format=encoding)
    assert [d.embedding for d in answer.data] == [d.embedding for d in expected.data]
    assert answer.usage.prompt_tokens == expected.usage.prompt_tokens  # type: ignore[union-attr]


def test_a_big_answer_is_sent_in_pieces_and_a_small_one_whole(proxy: Proxy) -> None:
    body: dict[str, Any] = {"model": "embed", "input": ["x"] * 100}
    with httpx.stream("POST", proxy.url + "/v1/embeddings", json=body, timeout=60) as big:
        assert big.headers.get("transfer-encoding") == "chunked"
        assert len(big.read()) > 100 * 1024 * 5  # ~20 bytes a number
        assert "x-gatewise-response-cost" in big.headers
    small = httpx.post(proxy.url + "/v1/embeddings", json={**body, "input": ["x"]})
    assert small.headers["content-length"] == str(len(small.content))


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def mallopt(self, option: int, value: int) -> int:
        self.calls.append(("mallopt", option, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


def test_memory_goes_back_once_the_last_big_answer_is_sent(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    libc = FakeLibc()
    monkeypatch.setattr(_memory, "_libc", lambda: libc)
    big = _memory.BigAnswers()
    big.tune_allocator()
    assert libc.calls == [("mallopt", -3, 1 << 20)]  # M_MMAP_THRESHOLD, fixed at 1 MiB
    big.started()
    big.started()
    big.done(_memory.BIG)
    assert libc.calls[1:] == []  # another one is still being sent
    big.done(10)
    assert libc.calls[1:] == [("malloc_trim", 0)]
    big.started()
    big.done(_memory.BIG - 1)  # a burst too small to bother
    assert libc.calls[1:] == [("malloc_trim", 0)]
