"""``POST /moderations``: OpenAI's moderation, through the router to Mistral's moderation
(text) or chat moderation (an ``input`` that is a conversation, or a list of them); each
result says ``flagged`` when any of Mistral's categories is."""

from __future__ import annotations

from time import perf_counter

from gatewise._exceptions import APIError
from gatewise.proxy._asgi import Receive, Scope, Send
from gatewise.proxy.deployments import check_fields
from gatewise.proxy.errors import bad_request
from gatewise.proxy.exchange import exchange_of
from gatewise.proxy.routes._common import admit, read_json_object, upstream_error
from gatewise.proxy.routes.routed import respond_routed
from gatewise.proxy.state import AppState


async def moderations(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    exchange = exchange_of(scope)
    body = await read_json_object(state, scope, receive)
    name = body.pop("model", None)
    state.check_served(name, mode="moderation")
    if "input" not in body:
        raise bad_request("`input` is required: a string, a list of strings, or a "
                          "conversation (a list of messages)", param="input")
    inputs = body.pop("input")
    check_fields(body, name, state.mock_only)
    router = state.router
    call_id = exchange.call_id
    ticket = await admit(state, scope, exchange, name, inputs, body)
    sent = perf_counter()
    try:
        result = await router.amoderation_dict(name, inputs, admission=ticket, **body)
    except APIError as exc:
        raise upstream_error(exc, call_id, state.by_id) from None
    await respond_routed(state, receive, send, result, exchange, perf_counter() - sent)
