"""Helpers for the proxy tests: an in-process ASGI driver, and configs as dicts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from gatewise.proxy.app import ProxyApp, create_app
from gatewise.proxy.config import parse_config
from gatewise.record import RequestRecord
from tests.fake_mistral import FakeMistral
from tests.proxy._checks import openai_error

HELLO: list[Any] = [{"role": "user", "content": "hello from gatewise"}]  # Any: as openai wants


class Recorder:
    """A sink keeping every record it is handed."""

    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def emit(self, record: RequestRecord) -> None:
        self.records.append(record)

    async def aclose(self) -> None:
        return None


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    chunks: list[bytes] = field(default_factory=list)

    def json(self) -> Any:
        return orjson.loads(self.body)

    def error(self) -> dict[str, Any]:
        """The OpenAI-shaped error, checked for its exact shape."""
        return openai_error(self.body)


async def call(app: ProxyApp, method: str, path: str, json: Any = None, *,
               body: bytes | None = None, headers: dict[str, str] | None = None,
               body_parts: list[bytes] | None = None, query: bytes = b"") -> Answer:
    """One request straight into the ASGI app, no server in between."""
    if body is None and json is not None:
        body = orjson.dumps(json)
    parts = body_parts if body_parts is not None else [body or b""]
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {"type": "http", "method": method, "path": path, "headers": raw_headers,
             "query_string": query, "http_version": "1.1", "scheme": "http"}
    pending = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
               for i, p in enumerate(parts)]
    answer = Answer(0, {}, b"")

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        import asyncio

        await asyncio.sleep(3600)  # the client never leaves in these tests
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert answer.status == 0, "response started twice"
            answer.status = message["status"]
            answer.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            assert answer.status, "body before start"
            answer.chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    answer.body = b"".join(answer.chunks)
    return answer


def make_app(data: dict[str, Any], environ: dict[str, str] | None = None) -> ProxyApp:
    return create_app(parse_config(data, "test.yaml", environ=environ or {}))


@pytest.fixture
async def mock_app() -> AsyncIterator[ProxyApp]:
    """Two mocked models (no network) and no master key."""
    app = make_app({"model_list": [
        {"model_name": "demo", "params": {"model": "mistral/mistral-small-latest",
                                          "mock_response": "hi there"}},
        {"model_name": "embed", "params": {"model": "mistral/mistral-embed",
                                           "mock_response": [0.5, 0.5]},
         "model_info": {"mode": "embedding"}},
    ]})
    yield app
    await app.state.aclose()


@pytest.fixture
async def fake_app(fake_mistral: FakeMistral) -> AsyncIterator[ProxyApp]:
    """The issue's config, pointed at the fake server (in process)."""
    app = create_app(parse_config({"model_list": [
        {"model_name": "mistral-small-latest",
         "litellm_params": {"model": "mistral/mistral-small-latest",
                            "api_key": "os.environ/MISTRAL_API_KEY",
                            "api_base": fake_mistral.base_url, "max_retries": 0}},
    ]}, "test.yaml", environ={"MISTRAL_API_KEY": "test-key"}))
    yield app
    await app.state.aclose()
