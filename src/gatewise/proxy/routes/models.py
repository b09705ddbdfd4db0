"""``GET /models`` and ``GET /models/{id}``: the config's model names, answered from bytes
made at startup."""

from __future__ import annotations

from gatewise.proxy._asgi import JSON_TYPE, Receive, Scope, Send, respond
from gatewise.proxy.state import AppState

PREFIX = "/models/"


async def list_models(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await respond(send, 200, state.models_body, [JSON_TYPE])


async def retrieve_model(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    path: str = scope["path"]
    name = path[path.index(PREFIX) + len(PREFIX):]
    if len(name) > 1 and name[-1] == "/":  # as the app routes it: /models/x/ is /models/x
        name = name.rstrip("/") or name
    body = state.model_bodies.get(name)
    if body is None:
        raise state.model_not_found(name)
    await respond(send, 200, body, [JSON_TYPE])
