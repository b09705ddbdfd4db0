"""``GET /openapi.json``: the proxy's OpenAPI document (see :mod:`gatewise.proxy.openapi`),
made on first request for the model names this proxy serves."""

from __future__ import annotations

from gatewise.proxy._asgi import JSON_TYPE, Receive, Scope, Send, respond
from gatewise.proxy.state import AppState


async def openapi_json(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await respond(send, 200, state.openapi_body(), [JSON_TYPE])
