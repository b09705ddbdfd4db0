"""Driving the management API in process, with the master key or a virtual key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from gatewise.proxy.app import ProxyApp
from tests.proxy.conftest import Answer, call

MASTER_KEY = "sk-master-key-for-tests"
MODELS = ("demo", "embed", "small")  # "small" is an alias of "demo"


@dataclass
class Admin:
    """Requests with ``key`` (the master key by default); ``changed`` collects what the
    access layer was told changed (its listeners)."""

    app: ProxyApp
    key: str = MASTER_KEY
    changed: list[tuple[str, str]] = field(default_factory=list)

    def as_key(self, key: str) -> Admin:
        return Admin(self.app, key, self.changed)

    async def post(self, path: str, json: Any) -> Answer:
        return await call(self.app, "POST", path, json,
                          headers={"authorization": f"Bearer {self.key}"})

    async def get(self, path: str, **query: Any) -> Answer:
        return await call(self.app, "GET", path, headers={
            "authorization": f"Bearer {self.key}"}, query=urlencode(query).encode())

    async def ok(self, path: str, json: Any = None, **query: Any) -> Any:
        """The JSON of a 200 answer (POST with ``json``, else GET with ``query``)."""
        answer = await (self.post(path, json) if json is not None else self.get(path, **query))
        assert answer.status == 200, (path, answer.status, answer.body[:500])
        return answer.json()

    async def error(self, status: int, path: str, json: Any = None, **query: Any
                    ) -> dict[str, Any]:
        """The OpenAI-shaped error of an answer expected to be ``status``."""
        answer = await (self.post(path, json) if json is not None else self.get(path, **query))
        assert answer.status == status, (path, json, answer.status, answer.body[:500])
        return answer.error()

    async def chat(self, model: str = "demo") -> Answer:
        return await self.post("/v1/chat/completions", {
            "model": model, "messages": [{"role": "user", "content": "hi"}]})
