"""``POST /ocr``: Mistral's own shape in and out (OpenAI has no OCR endpoint), through the
router; the cost header is pages processed x the model's price per page."""

from __future__ import annotations

from time import perf_counter

import orjson

from gatewise._exceptions import APIError
from gatewise.proxy._asgi import JSON_TYPE, Receive, Scope, Send, respond
from gatewise.proxy.deployments import check_fields
from gatewise.proxy.errors import bad_request
from gatewise.proxy.exchange import exchange_of
from gatewise.proxy.routes._common import (
    admit,
    cost_headers,
    meta_headers,
    overhead_header,
    read_json_object,
    upstream_error,
)
from gatewise.proxy.state import AppState


async def ocr(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    exchange = exchange_of(scope)
    start = exchange.started
    body = await read_json_object(state, scope, receive)
    name = body.pop("model", None)
    state.check_served(name, mode="ocr")
    if "document" not in body:
        raise bad_request("`document` is required, e.g. {\"type\": \"document_url\", "
                          "\"document_url\": \"https://...\"}", param="document")
    document = body.pop("document")
    check_fields(body, name, state.mock_only)
    router = state.router
    call_id = exchange.call_id
    ticket = await admit(state, scope, exchange, name, document, body)
    sent = perf_counter()
    try:
        result = await router.aocr_dict(name, document, admission=ticket, **body)
    except APIError as exc:
        raise upstream_error(exc, call_id, state.by_id) from None
    upstream = perf_counter() - sent
    deployment = state.by_id[result.deployment_id]
    exchange.served(result, deployment, upstream)
    headers = meta_headers(call_id, deployment, result.retries, result.fallbacks)
    price = deployment.cost(result.response.get("usage_info"))
    exchange.used(None, cost=price)
    headers += cost_headers(price)
    headers += exchange.key_headers()
    headers.append(JSON_TYPE)
    payload = orjson.dumps(result.response)
    headers.append(overhead_header(start, upstream))  # taken last
    await respond(send, 200, payload, headers)
