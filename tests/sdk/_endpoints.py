"""One harness for the calls beyond chat, run sync or async through a fresh ``Client`` /
``AsyncClient`` pointed at the fake server (each test module's ``endpoints`` fixture runs
its tests both ways)."""

from __future__ import annotations

import asyncio
from typing import Any

import gatewise
from tests.fake_mistral import FakeMistral

CODESTRAL = "mistral/codestral-latest"
MODERATION = "mistral/mistral-moderation-latest"


class Endpoints:
    def __init__(self, mode: str, fake: FakeMistral) -> None:
        self.mode = mode
        self.fake = fake
        self.defaults: dict[str, Any] = {"api_key": "test-key", "api_base": fake.base_url}

    def call(self, method: str, *args: Any, **kw: Any) -> Any:
        """``client.<method>(*args, **kw)``; a stream is read to the end: (items, usage)."""
        if self.mode == "sync":
            with gatewise.Client(**self.defaults) as client:
                result = getattr(client, method)(*args, **kw)
                if isinstance(result, gatewise.Stream):
                    return list(result), result.usage
                return result

        async def run() -> Any:
            async with gatewise.AsyncClient(**self.defaults) as client:
                result = await getattr(client, method)(*args, **kw)
                if isinstance(result, gatewise.AsyncStream):
                    return [item async for item in result], result.usage
                return result
        return asyncio.run(run())

    def last_body(self) -> dict[str, Any]:
        body = self.fake.requests[-1].json
        assert isinstance(body, dict)
        return body
