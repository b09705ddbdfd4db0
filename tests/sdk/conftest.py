"""One harness drives the SDK both ways: every test taking ``sdk`` runs sync and async
(aiohttp, the async default); a module can add async over the lean transport (mode
``lean``) by redefining ``sdk`` (see test_stream.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

import gatewise
from gatewise.types import EmbeddingResponse, ModelResponse, ModelResponseChunk
from tests._transports import make_transport
from tests.fake_mistral import FakeMistral
from tests.sdk._media import Media

MODEL = "mistral/mistral-small-latest"
HELLO = [{"role": "user", "content": "hello from gatewise"}]


class SDK:
    """Calls through a fresh ``Client`` or ``AsyncClient`` pointed at the fake server;
    ``mode`` is ``sync``, ``async`` (its default transport) or ``lean``."""

    def __init__(self, mode: str, fake: FakeMistral) -> None:
        self.mode = mode
        self.fake = fake
        self.defaults: dict[str, Any] = {"api_key": "test-key", "api_base": fake.base_url}

    def _async_client(self) -> gatewise.AsyncClient:
        transport = make_transport("lean") if self.mode == "lean" else None
        return gatewise.AsyncClient(**self.defaults, transport=transport)

    def _kwargs(self, kw: dict[str, Any]) -> dict[str, Any]:
        kw.setdefault("model", MODEL)
        kw.setdefault("messages", HELLO)
        return kw

    def completion(self, **kw: Any) -> ModelResponse:
        kw = self._kwargs(kw)
        if self.mode == "sync":
            with gatewise.Client(**self.defaults) as client:
                response = client.completion(**kw)
        else:
            async def run() -> Any:
                async with self._async_client() as client:
                    return await client.completion(**kw)
            response = asyncio.run(run())
        assert isinstance(response, ModelResponse)
        return response

    def stream(self, **kw: Any) -> list[ModelResponseChunk]:
        kw = self._kwargs(kw)
        kw["stream"] = True
        if self.mode == "sync":
            with gatewise.Client(**self.defaults) as client:
                return list(client.completion(**kw))  # type: ignore[arg-type]

        async def run() -> list[ModelResponseChunk]:
            async with self._async_client() as client:
                stream = await client.completion(**kw)
                return [chunk async for chunk in stream]  # type: ignore[union-attr]
        return asyncio.run(run())

    def relayed(self, **kw: Any) -> tuple[list[dict[str, Any]], Any]:
        """``completion_sse``: the events, decoded, and the stream's ``usage``."""
        kw = self._kwargs(kw)
        kw["stream"] = True
        if self.mode == "sync":
            with gatewise.Client(**self.defaults) as client:
                stream = client.completion_sse(**kw)
                blocks = list(stream)  # type: ignore[arg-type]
                usage = stream.usage  # type: ignore[union-attr]
        else:
            async def run() -> tuple[list[bytes], Any]:
                async with self._async_client() as client:
                    stream = await client.completion_sse(**kw)
                    out = [block async for block in stream]  # type: ignore[union-attr]
                    return out, stream.usage  # type: ignore[union-attr]
            blocks, usage = asyncio.run(run())
        events = b"".join(blocks).split(b"\n\n")
        assert events.pop() == b""
        assert all(e.startswith(b"data: {") for e in events)  # no [DONE]: the relay adds it
        return [orjson.loads(e[6:]) for e in events], usage

    def embedding(self, **kw: Any) -> EmbeddingResponse:
        kw.setdefault("model", "mistral/mistral-embed")
        if self.mode == "sync":
            with gatewise.Client(**self.defaults) as client:
                return client.embedding(**kw)

        async def run() -> EmbeddingResponse:
            async with self._async_client() as client:
                return await client.embedding(**kw)
        return asyncio.run(run())

    def last_body(self) -> dict[str, Any]:
        body = self.fake.requests[-1].json
        assert isinstance(body, dict)
        return body


@pytest.fixture(params=["sync", "async"])
def sdk(request: pytest.FixtureRequest, fake_mistral: FakeMistral) -> SDK:
    return SDK(request.param, fake_mistral)


@pytest.fixture(params=["sync", "async"])
def media(request: pytest.FixtureRequest, fake_mistral: FakeMistral) -> Media:
    """OCR and transcription through a ``Client`` and an ``AsyncClient`` (tests/sdk/_media)."""
    return Media(request.param, fake_mistral)
