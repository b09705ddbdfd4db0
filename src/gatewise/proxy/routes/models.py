"""``GET /models`` and ``GET /models/{id}``: the config's model names, answered from bytes
made at startup."""

from __future__ import annotations

from gatewise.proxy._asgi import JSON_TYPE, Receive, Scope, Send, respond
from gatewise.proxy.errors import ProxyError
from gatewise.proxy.state import AppState

PREFIX = "/models/"


async def list_models(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await respond(send, 200, state.models_body, [JSON_TYPE])


async def retrieve_model(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    path: str = scope["path"]
    name = path[path.index(PREFIX) + len(PREFIX):]
    body = state.model_bodies.get(name)
    if body is None:
        raise ProxyError(404, f"The model `{name[:100]}` does not exist on this proxy. "
                              f"Available models: {state.names}",
                         param="model", code="model_not_found")
    await respond(send, 200, body, [JSON_TYPE])
