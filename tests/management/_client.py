"""Driving the management API in process: an admin (the master key), or a caller whose
identity the test sets (as the access layer will resolve it from a virtual key)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from gatewise.proxy._asgi import Receive, Scope, Send
from gatewise.proxy.access.identity import IDENTITY, Identity
from gatewise.proxy.app import ProxyApp
from tests.proxy.conftest import Answer, call

MASTER_KEY = "sk-master-key-for-tests"
MODELS = ("demo", "embed", "small")  # "small" is an alias of "demo"


class AsIdentity(ProxyApp):
    """The app, with the caller's identity set in the scope (for an app without a master
    key, whose requests the app lets through to the handlers)."""

    def __init__(self, app: ProxyApp, identity: Identity) -> None:
        super().__init__(app.state)
        self.identity = identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[IDENTITY] = self.identity
        await super().__call__(scope, receive, send)


@dataclass
class Admin:
    """Requests with the master key; ``changed`` collects what the access hook was told."""

    app: ProxyApp
    changed: list[tuple[str, str]] = field(default_factory=list)

    async def post(self, path: str, json: Any) -> Answer:
        return await call(self.app, "POST", path, json,
                          headers={"authorization": f"Bearer {MASTER_KEY}"})

    async def get(self, path: str, **query: Any) -> Answer:
        return await call(self.app, "GET", path, headers={
            "authorization": f"Bearer {MASTER_KEY}"}, query=urlencode(query).encode())

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


class Hook:
    """Stands for the access layer's ``changed`` hook."""

    def __init__(self, seen: list[tuple[str, str]]) -> None:
        self.seen = seen

    async def changed(self, kind: str, ref: str) -> None:
        self.seen.append((kind, ref))
