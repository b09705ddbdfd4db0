"""``POST /chat/completions``: validate the few fields the proxy owns, call the SDK core."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from gatewise._exceptions import APIError
from gatewise.proxy._asgi import Receive, Scope, Send
from gatewise.proxy.errors import bad_request
from gatewise.proxy.routes._common import (
    meta_headers,
    new_call_id,
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
    start = perf_counter()
    body = await read_json_object(state, scope, receive)
    deployment = state.deployment_for(body.pop("model", None))
    messages = check_messages(body.pop("messages", None))
    stream = body.get("stream")
    if stream is not None and type(stream) is not bool:
        raise bad_request("`stream` must be true or false", param="stream")
    kwargs = deployment.call_kwargs(body)
    call_id = new_call_id()
    sent = perf_counter()
    try:
        result = await state.client.completion_dict(deployment.model, messages, **kwargs)
    except APIError as exc:
        raise upstream_error(exc, deployment, call_id) from None
    upstream = perf_counter() - sent
    if isinstance(result, dict):
        await respond_result(send, result, deployment, call_id, start, upstream)
        return
    # An AsyncStream of chunk dicts: the cost is not known before the headers go out.
    headers = [*meta_headers(call_id, deployment), overhead_header(start, upstream)]
    await relay(result, receive, send, headers, deployment, call_id)
