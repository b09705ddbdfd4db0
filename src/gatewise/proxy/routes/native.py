"""Mistral's own endpoints, Mistral's shape in and out (for the Mistral SDK and editor
plugins pointed at the proxy): ``POST /fim/completions``, ``/chat/moderations``,
``/classifications``, ``/chat/classifications``.

The proxy checks only what is its own business -- the model (it names a model group,
which must serve the route's kind of call), the fields the route cannot do without, and
the ``stream`` flag -- then routes the body as it came (``Router.anative``); the
upstream's strict schema judges the rest, and its 422 names the field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

from gatewise._exceptions import APIError
from gatewise.proxy._asgi import Receive, Scope, Send
from gatewise.proxy.errors import bad_request
from gatewise.proxy.exchange import exchange_of
from gatewise.proxy.routes._common import admit, read_json_object, upstream_error
from gatewise.proxy.routes.routed import respond_routed
from gatewise.proxy.state import AppState

Handler = Callable[[AppState, Scope, Receive, Send], Awaitable[None]]  # as routes/__init__'s


def native_route(endpoint: str, mode: str, required: tuple[str, ...], *,
                 streams: bool = False) -> Handler:
    """The handler of Mistral's ``endpoint`` (under ``/v1``), for models of ``mode``."""

    async def handler(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = exchange_of(scope)
        body = await read_json_object(state, scope, receive)
        name = body.pop("model", None)
        state.check_served(name, mode=mode)
        for field in required:
            if field not in body:
                raise bad_request(f"`{field}` is required", param=field)
        params: dict[str, Any] = {}
        stream = body.get("stream")
        if streams and stream is not None:
            if type(stream) is not bool:
                raise bad_request("`stream` must be true or false", param="stream")
            params["stream"] = stream
        router = state.router
        call_id = exchange.call_id
        ticket = await admit(state, scope, exchange, name, body, body)
        exchange.record.stream = bool(params.get("stream"))
        sent = perf_counter()
        try:
            result = await router.anative(name, body, endpoint=endpoint, admission=ticket,
                                          **params)
        except APIError as exc:
            raise upstream_error(exc, call_id, state.by_id) from None
        await respond_routed(state, receive, send, result, exchange, perf_counter() - sent)

    handler.__name__ = handler.__qualname__ = endpoint.strip("/").replace("/", "_")
    return handler


fim_completions = native_route("/fim/completions", "fim", ("prompt",), streams=True)
chat_moderations = native_route("/chat/moderations", "moderation", ("input",))
classifications = native_route("/classifications", "classification", ("input",))
chat_classifications = native_route("/chat/classifications", "classification", ("input",))
