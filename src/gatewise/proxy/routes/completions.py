"""``POST /completions``: OpenAI's legacy text completions, served by Mistral's FIM (code
completion) through the router; a stream is relayed as ``text_completion`` chunks ending
in ``data: [DONE]``.  The SDK core translates and checks the parameters (``prompt``,
``suffix``, ``max_tokens``...; ``logprobs``, ``echo``, ``best_of``... are refused unless
``drop_params``)."""

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


async def completions(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    exchange = exchange_of(scope)
    body = await read_json_object(state, scope, receive)
    name = body.pop("model", None)
    state.check_served(name, mode="fim")
    if "prompt" not in body:
        raise bad_request("`prompt` is required: the code before the gap to fill",
                          param="prompt")
    prompt = body.pop("prompt")
    stream = body.get("stream")
    if stream is not None and type(stream) is not bool:
        raise bad_request("`stream` must be true or false", param="stream")
    check_fields(body, name, state.mock_only)
    router = state.router
    call_id = exchange.call_id
    ticket = await admit(state, scope, exchange, name, prompt, body)
    sent = perf_counter()
    try:
        result = await router.atext_completion_sse(name, prompt, admission=ticket, **body)
    except APIError as exc:
        raise upstream_error(exc, call_id, state.by_id) from None
    await respond_routed(state, receive, send, result, exchange, perf_counter() - sent)
