"""``GET /models`` and ``GET /models/{id}``: the config's model names, answered from bytes
made at startup -- or, for a key that may call only some of them (its own, its team's or
its user's model list), those alone, as LiteLLM answers."""

from __future__ import annotations

import orjson

from gatewise.proxy._asgi import JSON_TYPE, Receive, Scope, Send, respond
from gatewise.proxy.access.identity import identity_of
from gatewise.proxy.state import AppState

PREFIX = "/models/"


async def list_models(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    identity = identity_of(scope)
    access = state.access
    if not access.restricted(identity):
        await respond(send, 200, state.models_body, [JSON_TYPE])
        return
    cards = [orjson.loads(state.model_bodies[n]) for n in state.listed
             if access.allows(identity, n)]
    await respond(send, 200, orjson.dumps({"object": "list", "data": cards}), [JSON_TYPE])


async def retrieve_model(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    path: str = scope["path"]
    name = path[path.index(PREFIX) + len(PREFIX):]
    if len(name) > 1 and name[-1] == "/":  # as the app routes it: /models/x/ is /models/x
        name = name.rstrip("/") or name
    body = state.model_bodies.get(name)
    if body is None or not state.access.allows(identity_of(scope), name):
        raise state.model_not_found(name)
    await respond(send, 200, body, [JSON_TYPE])
