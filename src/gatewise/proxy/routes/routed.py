"""What the routes beyond chat and embeddings share: answering with what the router gave.

A dict is sent as JSON with the metadata headers and its cost (from its usage and the
catalogue's prices; an answer without usage, like a moderation's, costs what the
catalogue says a call of that model costs: 0 for Mistral's moderation models); a stream
is relayed as SSE (``proxy.sse``), its cost unknown before the headers go out.
"""

from __future__ import annotations

from typing import Any

import orjson

from gatewise.proxy._asgi import JSON_TYPE, Receive, Send, respond
from gatewise.proxy.routes._common import cost_header, meta_headers, overhead_header
from gatewise.proxy.sse import relay
from gatewise.proxy.state import AppState
from gatewise.router.result import RouteResult


async def respond_routed(state: AppState, receive: Receive, send: Send,
                         result: RouteResult[Any], call_id: bytes, start: float,
                         upstream: float) -> None:
    """Answer with ``result``: JSON (``upstream`` seconds were the router's) or SSE."""
    deployment = state.by_id[result.deployment_id]
    response = result.response
    headers = meta_headers(call_id, deployment, result.retries, result.fallbacks)
    if isinstance(response, dict):
        cost = cost_header(deployment.cost(response.get("usage") or {}))
        if cost is not None:
            headers.append(cost)
        headers.append(JSON_TYPE)
        payload = orjson.dumps(response)
        headers.append(overhead_header(start, upstream))
        await respond(send, 200, payload, headers)
        return
    headers.append(overhead_header(start, upstream))
    await relay(response, receive, send, headers, deployment, call_id, state.client_timeout)
