"""``POST /embeddings``: through the router; the SDK core validates ``input`` and splits
big batches."""

from __future__ import annotations

from time import perf_counter

from gatewise._exceptions import APIError
from gatewise._prepare import MAX_EMBEDDING_INPUTS, too_many_inputs
from gatewise.proxy._asgi import Receive, Scope, Send
from gatewise.proxy.deployments import check_fields
from gatewise.proxy.errors import bad_request, from_api_error
from gatewise.proxy.exchange import exchange_of
from gatewise.proxy.routes._common import (
    admit,
    arrived_json_object,
    read_json_object,
    respond_in_pieces,
    upstream_error,
)
from gatewise.proxy.state import AppState


async def embeddings(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    exchange = exchange_of(scope)
    body = arrived_json_object(state, scope)
    if body is None:
        body = await read_json_object(state, scope, receive)
    name = body.pop("model", None)
    state.check_served(name, mode="embedding")
    if "input" not in body:
        raise bad_request("`input` is required: a string or a list of strings", param="input")
    inputs = body.pop("input")
    if type(inputs) is list and len(inputs) > MAX_EMBEDDING_INPUTS:  # before any routing
        raise from_api_error(too_many_inputs(len(inputs)))
    check_fields(body, name, state.mock_only)
    router = state.router
    call_id = exchange.call_id
    ticket = await admit(state, scope, exchange, name, inputs, body)
    sent = perf_counter()
    try:
        result = await router.aembedding_json(name, inputs, admission=ticket, **body)
    except APIError as exc:
        raise upstream_error(exc, call_id, state.by_id) from None
    upstream = perf_counter() - sent
    deployment = state.by_id[result.deployment_id]
    exchange.served(result, deployment, upstream)
    await respond_in_pieces(send, result, deployment, call_id, exchange.started, upstream,
                            state.big_answers, exchange,
                            state.priced_as(name) if deployment.wildcard else None)
