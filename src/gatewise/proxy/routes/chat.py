"""``POST /chat/completions``: validate the few fields the proxy owns, call the router."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from gatewise._exceptions import APIError
from gatewise.proxy._asgi import DIRECT, Receive, Scope, Send
from gatewise.proxy.deployments import check_fields
from gatewise.proxy.errors import bad_request
from gatewise.proxy.exchange import exchange_of
from gatewise.proxy.routes._common import (
    admit,
    arrived_json_object,
    meta_headers,
    overhead_header,
    read_json_object,
    respond_result,
    upstream_error,
)
from gatewise.proxy.sse import relay
from gatewise.proxy.state import AppState


def check_messages(messages: Any) -> list[dict[str, Any]]:
    if messages is None:
        raise bad_request("`messages` is required: a non-empty list of message objects",
                          param="messages")
    if type(messages) is not list or not messages:
        raise bad_request("`messages` must be a non-empty list of message objects",
                          param="messages")
    for i, message in enumerate(messages):
        if type(message) is not dict:
            raise bad_request(f"messages[{i}] must be an object with a role",
                              param=f"messages[{i}]")
        if type(message.get("role")) is not str:
            raise bad_request(f"messages[{i}].role is required: a string such as 'user'",
                              param=f"messages[{i}].role")
    return messages


async def chat_completions(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    exchange = exchange_of(scope)
    start = exchange.started
    body = arrived_json_object(state, scope)
    if body is None:
        body = await read_json_object(state, scope, receive)
    name = body.pop("model", None)
    state.check_served(name, mode="chat")
    messages = check_messages(body.pop("messages", None))
    stream = body.get("stream")
    if stream is not None and type(stream) is not bool:
        raise bad_request("`stream` must be true or false", param="stream")
    check_fields(body, name, state.mock_only)
    router = state.router
    call_id = exchange.call_id
    ticket = await admit(state, scope, exchange, name, messages, body)
    exchange.record.stream = bool(stream)
    sent = perf_counter()
    try:
        result = await router.acompletion_sse(name, messages, admission=ticket, **body)
    except APIError as exc:
        raise upstream_error(exc, call_id, state.by_id) from None
    upstream = perf_counter() - sent
    deployment = state.by_id[result.deployment_id]
    exchange.served(result, deployment, upstream)
    response = result.response
    if isinstance(response, dict):
        await respond_result(scope, send, result, deployment, call_id, start, upstream,
                             exchange, state.priced_as(name) if deployment.wildcard else None)
        return
    # An AsyncStream of SSE bytes, its first block already in: the router has settled
    # where it runs, and the cost is not known before the headers go out.
    exchange.record.ttft = perf_counter() - start
    headers = [*meta_headers(call_id, deployment, result.retries, result.fallbacks),
               *exchange.key_headers(), overhead_header(start, upstream)]
    await relay(response, receive, send, headers, deployment, call_id,
                state.client_timeout, exchange, scope.get(DIRECT))
