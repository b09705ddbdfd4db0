"""What the routes beyond chat and embeddings share: answering with what the router gave.

A dict is sent as JSON with the metadata headers and its cost (from its usage and the
catalogue's prices; an answer without usage, like a moderation's, costs what the
catalogue says a call of that model costs: 0 for Mistral's moderation models); a stream
is relayed as SSE (``proxy.sse``), its cost unknown before the headers go out.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

import orjson

from gatewise.proxy._asgi import JSON_TYPE, Receive, Send, respond
from gatewise.proxy.exchange import Exchange
from gatewise.proxy.routes._common import cost_headers, meta_headers, overhead_header
from gatewise.proxy.sse import relay
from gatewise.proxy.state import AppState
from gatewise.router.result import RouteResult


async def respond_routed(state: AppState, receive: Receive, send: Send,
                         result: RouteResult[Any], exchange: Exchange, upstream: float
                         ) -> None:
    """Answer with ``result``: JSON (``upstream`` seconds were the router's) or SSE."""
    deployment = state.by_id[result.deployment_id]
    exchange.served(result, deployment, upstream)
    response = result.response
    call_id, start = exchange.call_id, exchange.started
    headers = meta_headers(call_id, deployment, result.retries, result.fallbacks)
    headers += exchange.key_headers()
    if isinstance(response, dict):
        usage = response.get("usage") or {}
        exchange.used(usage)
        headers += cost_headers(deployment.cost(usage))
        headers.append(JSON_TYPE)
        payload = orjson.dumps(response)
        headers.append(overhead_header(start, upstream))
        await respond(send, 200, payload, headers)
        return
    exchange.record.ttft = perf_counter() - start
    headers.append(overhead_header(start, upstream))
    await relay(response, receive, send, headers, deployment, call_id, state.client_timeout,
                exchange)
