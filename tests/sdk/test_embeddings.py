"""Embeddings through the public API: shapes, parameters, batching over the limits, cost."""

from __future__ import annotations

import asyncio
import base64
import struct
from typing import Any

import pytest

import gatewise
from gatewise._http import RawResponse, Request, Timeout
from gatewise._http._aiohttp import AiohttpTransport
from gatewise._http._async import AsyncRawStream
from tests.fake_mistral import FakeMistral
from tests.sdk.conftest import SDK


def test_list_input(sdk: SDK) -> None:
    response = sdk.embedding(input=["first", "second"])
    assert response.object == "list"
    assert [d.index for d in response.data] == [0, 1]
    assert all(len(d.embedding) == 1024 for d in response.data)
    assert response.model == "mistral-embed"
    assert response.usage is not None and response.usage.prompt_tokens > 0
    assert response.cost == pytest.approx(response.usage.prompt_tokens * 1e-07)


def test_string_input(sdk: SDK) -> None:
    response = sdk.embedding(input="just one")
    assert len(response.data) == 1
    assert sdk.last_body()["input"] in ("just one", ["just one"])


def test_dimensions_where_supported(sdk: SDK) -> None:
    response = sdk.embedding(model="mistral/codestral-embed", input=["x"], dimensions=256)
    assert sdk.last_body()["output_dimension"] == 256
    assert "dimensions" not in sdk.last_body()
    assert len(response.data[0].embedding) == 256


def test_dimensions_where_unsupported_fail_before_the_network(sdk: SDK,
                                                              fake_mistral: FakeMistral) -> None:
    with pytest.raises(gatewise.UnsupportedParamsError, match="dimensions"):
        sdk.embedding(input=["x"], dimensions=256)
    assert fake_mistral.requests == []


def test_base64_encoding(sdk: SDK) -> None:
    response = sdk.embedding(input=["x"], encoding_format="base64")
    encoded = response.data[0].embedding
    assert isinstance(encoded, str)
    assert len(struct.unpack(f"<{1024}f", base64.b64decode(encoded))) == 1024


def test_output_dtype(sdk: SDK) -> None:
    sdk.embedding(model="mistral/codestral-embed", input=["x"], output_dtype="int8")
    assert sdk.last_body()["output_dtype"] == "int8"


def test_over_512_inputs_are_split_and_merged_in_order(sdk: SDK, fake_mistral: FakeMistral
                                                       ) -> None:
    inputs = [f"text number {i}" for i in range(1100)]
    response = sdk.embedding(input=inputs)
    sizes = [len(r.json["input"]) for r in fake_mistral.requests]
    assert len(sizes) >= 3 and max(sizes) <= 512 and sum(sizes) == 1100
    assert [d.index for d in response.data] == list(range(1100))
    sent = [text for r in fake_mistral.requests for text in r.json["input"]]
    assert sent == inputs


def test_over_the_token_budget_is_split(sdk: SDK, fake_mistral: FakeMistral) -> None:
    inputs = ["word " * 1500] * 20  # ~37k tokens in all: over Mistral's 16k per request
    response = sdk.embedding(input=inputs)
    assert len(fake_mistral.requests) > 1
    assert len(response.data) == 20


class _CountingTransport(AiohttpTransport):
    """Records how many requests were in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.peak = 0

    async def request(self, request: Request, timeout: Timeout) -> RawResponse:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.01)  # let the other batches start
            return await super().request(request, timeout)
        finally:
            self.in_flight -= 1

    async def open_stream(self, request: Request, timeout: Timeout) -> AsyncRawStream:
        raise AssertionError("not used")


async def test_async_batches_are_sent_concurrently(fake_mistral: FakeMistral) -> None:
    transport = _CountingTransport()
    client: Any = gatewise.AsyncClient(api_key="test-key", api_base=fake_mistral.base_url,
                                       transport=transport)
    async with client:
        response = await client.embedding("mistral/mistral-embed",
                                          [f"t{i}" for i in range(1100)])
    assert len(response.data) == 1100
    assert transport.peak >= 3


def test_more_inputs_than_openai_allows_are_refused(sdk: SDK, fake_mistral: FakeMistral
                                                    ) -> None:
    with pytest.raises(gatewise.BadRequestError) as info:
        sdk.embedding(input=["hello world"] * 2049)
    assert info.value.param == "input" and "2048" in info.value.message
    assert fake_mistral.requests == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_embedding_json_relays_each_vector_as_the_upstreams_bytes(
        mode: str, fake_mistral: FakeMistral) -> None:
    import orjson

    from gatewise._rawjson import RawJSON, encode_chunks

    inputs = [f"text {i}" for i in range(600)]  # two requests upstream
    defaults = {"api_key": "test-key", "api_base": fake_mistral.base_url}
    if mode == "sync":
        with gatewise.Client(**defaults) as client:
            relayed = client.embedding_json("mistral/mistral-embed", inputs)
            typed = client.embedding("mistral/mistral-embed", inputs)
    else:
        async def run() -> tuple[Any, Any]:
            async with gatewise.AsyncClient(**defaults) as client:
                return (await client.embedding_json("mistral/mistral-embed", inputs),
                        await client.embedding("mistral/mistral-embed", inputs))
        relayed, typed = asyncio.run(run())
    assert all(isinstance(d["embedding"], RawJSON) for d in relayed["data"])
    read = orjson.loads(b"".join(encode_chunks(relayed)))
    assert [d["index"] for d in read["data"]] == list(range(600))
    assert [d["embedding"] for d in read["data"]] == [d.embedding for d in typed.data]
    assert read["usage"]["prompt_tokens"] == typed.usage.prompt_tokens  # type: ignore[union-attr]
