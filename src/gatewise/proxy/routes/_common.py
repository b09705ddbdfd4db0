"""What the model routes share: reading the JSON body, the metadata headers, error context."""

from __future__ import annotations

import logging
import os
from time import perf_counter
from typing import Any

import orjson

from gatewise._exceptions import APIError
from gatewise.proxy._asgi import JSON_TYPE, Headers, Receive, Scope, Send, read_body, respond
from gatewise.proxy.deployments import Deployment
from gatewise.proxy.errors import ProxyError, bad_request, from_api_error
from gatewise.proxy.state import AppState

logger = logging.getLogger("gatewise.proxy")


async def read_json_object(state: AppState, scope: Scope, receive: Receive) -> dict[str, Any]:
    raw = await read_body(scope, receive, state.max_body)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"could not parse the request body as JSON: {exc}",
                          code="invalid_json") from None
    if type(body) is not dict:
        raise bad_request("the request body must be a JSON object")
    return body


def new_call_id() -> bytes:
    return os.urandom(16).hex().encode()


def meta_headers(call_id: bytes, deployment: Deployment) -> Headers:
    return [(b"x-gatewise-call-id", call_id), (b"x-gatewise-model-id", deployment.id_header)]


def cost_header(cost: float | None) -> tuple[bytes, bytes] | None:
    if cost is None:
        return None
    text = f"{cost:.12f}".rstrip("0").rstrip(".")
    return (b"x-gatewise-response-cost", text.encode() or b"0")


def overhead_header(start: float, upstream: float) -> tuple[bytes, bytes]:
    """Time spent in the proxy itself: all of it but the wait for the upstream."""
    ms = max(0.0, (perf_counter() - start - upstream) * 1000.0)
    return (b"x-gatewise-overhead-ms", f"{ms:.3f}".encode())


def upstream_error(exc: APIError, deployment: Deployment, call_id: bytes) -> ProxyError:
    """Map an SDK error for the client, with the call's metadata, and log what deserves it."""
    error = from_api_error(exc, env_hint=deployment.key_env)
    error.headers += meta_headers(call_id, deployment)
    if (error.status >= 500 or error.status == 401) and logger.isEnabledFor(logging.WARNING):
        logger.warning("call %s to %s (%s) failed: %d %s", call_id.decode(),
                       deployment.model_name, deployment.id, error.status, error.message)
    return error


async def respond_result(send: Send, result: dict[str, Any], deployment: Deployment,
                         call_id: bytes, start: float, upstream: float) -> None:
    """A JSON answer with the metadata headers; the overhead is taken last."""
    headers = meta_headers(call_id, deployment)
    cost = cost_header(deployment.cost(result.get("usage")))
    if cost is not None:
        headers.append(cost)
    headers.append(JSON_TYPE)
    payload = orjson.dumps(result)
    headers.append(overhead_header(start, upstream))
    await respond(send, 200, payload, headers)
