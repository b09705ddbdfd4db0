"""What the model routes share: reading the JSON body, the metadata headers, error context."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Mapping
from functools import partial
from time import perf_counter
from typing import Any

import orjson

from gatewise._exceptions import APIError, AuthenticationError
from gatewise._rawjson import encode_chunks
from gatewise.catalogue import ModelInfo
from gatewise.proxy._asgi import (
    DIRECT,
    JSON_TYPE,
    Direct,
    Headers,
    Receive,
    Scope,
    Send,
    header_pairs,
    read_body,
    respond,
    too_large,
)
from gatewise.proxy._memory import BigAnswers
from gatewise.proxy.access.identity import identity_of
from gatewise.proxy.deployments import Deployment
from gatewise.proxy.errors import ProxyError, bad_request, from_api_error
from gatewise.proxy.exchange import Exchange
from gatewise.proxy.state import AppState
from gatewise.router.policy import attempts_of
from gatewise.router.result import (
    FALLBACKS_HEADER,
    MODEL_ID_HEADER,
    RETRIES_HEADER,
    RouteResult,
    failure_headers,
)
from gatewise.state.ticket import LimitExceeded, Ticket

logger = logging.getLogger("gatewise.proxy")


async def read_json_object(state: AppState, scope: Scope, receive: Receive) -> dict[str, Any]:
    raw = await read_body(scope, receive, state.max_body, state.deadlines,
                          state.client_timeout, state.config.request_body_timeout)
    return json_object(raw)


def arrived_json_object(state: AppState, scope: Scope) -> dict[str, Any] | None:
    """:func:`read_json_object` without a wait, for a body the server has all in already
    (``_asgi.Direct``: the usual small one); None when it is still to be read."""
    direct: Direct | None = scope.get(DIRECT)
    raw = direct.ready_body() if direct is not None else None
    if raw is None:
        return None
    if len(raw) > state.max_body:
        raise too_large(state.max_body)
    return json_object(raw)


def json_object(raw: bytes) -> dict[str, Any]:
    """A body's bytes as the JSON object it must be (else a 400 saying why)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"could not parse the request body as JSON: {exc}",
                          code="invalid_json") from None
    if type(body) is not dict:
        raise bad_request("the request body must be a JSON object")
    return body


_MODEL_ID = MODEL_ID_HEADER.encode()
_RETRIES = RETRIES_HEADER.encode()
_FALLBACKS = FALLBACKS_HEADER.encode()
_COUNTS = [str(n).encode() for n in range(10)]


def _count(n: int) -> bytes:
    return _COUNTS[n] if n < 10 else str(n).encode()


_META_LINES = (b"x-gatewise-call-id: %b\r\n" + _MODEL_ID + b": %b\r\n" + _RETRIES
               + b": %b\r\n" + _FALLBACKS + b": %b\r\n")
_COST_LINES = b"x-gatewise-response-cost: %b\r\nx-litellm-response-cost: %b\r\n"
_JSON_LINE = b"%b: %b\r\n" % JSON_TYPE


def meta_lines(call_id: bytes, deployment: Deployment, retries: int = 0, fallbacks: int = 0
               ) -> bytes:
    """Which call, which deployment served it, and what it took to get there: as the
    lines of a head (``_asgi.Direct.respond_lines``)."""
    return _META_LINES % (call_id, deployment.id_header, _count(retries), _count(fallbacks))


def meta_headers(call_id: bytes, deployment: Deployment, retries: int = 0, fallbacks: int = 0
                 ) -> Headers:
    """:func:`meta_lines` as a list of headers."""
    return header_pairs(meta_lines(call_id, deployment, retries, fallbacks))


def cost_lines(cost: float | None) -> bytes:
    """The answer's cost, in gatewise's header and LiteLLM's (none when unknown), as the
    lines of a head."""
    if cost is None:
        return b""
    text = (b"%.12f" % cost).rstrip(b"0").rstrip(b".") or b"0"
    return _COST_LINES % (text, text)


def cost_headers(cost: float | None) -> Headers:
    """:func:`cost_lines` as a list of headers."""
    return header_pairs(cost_lines(cost))


def overhead_header(start: float, upstream: float) -> tuple[bytes, bytes]:
    """Time spent in the proxy itself: all of it but the wait for the router's answer."""
    ms = max(0.0, (perf_counter() - start - upstream) * 1000.0)
    return (b"x-gatewise-overhead-ms", b"%.3f" % ms)


def upstream_error(exc: APIError, call_id: bytes, deployments: Mapping[str, Deployment],
                   serving: Deployment | None = None) -> ProxyError:
    """Map an SDK or router error for the client, with the call's metadata (the attempts a
    routed call made, in its headers and message), and log what deserves it.

    ``serving``: the deployment whose stream failed; else the attempts say who was tried.
    """
    if isinstance(exc, LimitExceeded):
        return limit_error(exc, call_id)
    attempts = attempts_of(exc)
    tried = [(a, deployments[a.deployment_id]) for a in attempts
             if a.deployment_id is not None and a.deployment_id in deployments]
    if serving is None and tried:
        serving = tried[-1][1]
    rejected = [d.key_env for a, d in tried if isinstance(a.error, AuthenticationError)]
    hint = (", ".join(dict.fromkeys(k for k in rejected if k))
            or (serving.key_env if serving else None))
    error = from_api_error(exc, env_hint=hint)
    if len(attempts) > 1:
        error.message += (f" [all {len(attempts)} attempts failed: "
                          f"{'; '.join(a.describe() for a in attempts)}]")
    error.headers.append((b"x-gatewise-call-id", call_id))
    if serving is not None:
        error.headers.append((_MODEL_ID, serving.id_header))
    error.headers += [(k.encode(), v.encode()) for k, v in failure_headers(exc).items()]
    if (error.status >= 500 or error.status == 401) and logger.isEnabledFor(logging.WARNING):
        where = f"{serving.model_name} ({serving.id})" if serving else "the router"
        logger.warning("call %s to %s failed: %d %s", call_id.decode(), where, error.status,
                       error.message)
    return error


async def admit(state: AppState, scope: Scope, exchange: Exchange, name: str, payload: Any,
                body: dict[str, Any]) -> Ticket | None:
    """The caller may use ``name`` (else a 401), and what the request counts against (its
    admission ticket: the router's store takes it with the deployment)."""
    identity = identity_of(scope)
    access = state.access
    access.check_model(identity, name)
    record = exchange.record
    record.model_group = name
    if state.sinks.details:  # for the request's span: its parameters (and messages)
        record.request_params = body
        if state.message_logging and type(payload) in (list, str):
            record.prompt = payload
    user = body.get("user")
    if type(user) is str:
        record.end_user = user[:256]
    if identity.key is None and type(user) is not str:
        return None  # the master key (or an open proxy): nothing to count
    ticket = await access.ticket(identity, name, exchange.record.call_id, payload, body)
    if ticket is not None:
        ticket.cost_of = partial(state.cost_of, name=name)
        exchange.ticket = ticket
    return ticket


def limit_error(exc: LimitExceeded, call_id: bytes) -> ProxyError:
    """A refused admission (key limits, budget) as the client sees it."""
    assert isinstance(exc, APIError)
    error = from_api_error(exc)
    error.headers.append((b"x-gatewise-call-id", call_id))
    remaining = exc.remaining
    if exc.limit in ("rpm", "tpm", "parallel"):
        error.headers += [(b"x-ratelimit-remaining-requests",
                           b"0" if exc.limit == "rpm" else
                           str(max(0, remaining.requests or 0)).encode()),
                          (b"x-ratelimit-remaining-tokens",
                           b"0" if exc.limit == "tpm" else
                           str(max(0, remaining.tokens or 0)).encode())]
        scope = exc.scope
        if scope.rpm is not None:
            error.headers.append((b"x-ratelimit-limit-requests", str(scope.rpm).encode()))
        if scope.tpm is not None:
            error.headers.append((b"x-ratelimit-limit-tokens", str(scope.tpm).encode()))
    else:
        error.code = "400"  # LiteLLM's budget_exceeded shape
    return error


def _result_lines(result: RouteResult[Any], deployment: Deployment, call_id: bytes,
                  info: ModelInfo | None, exchange: Exchange) -> bytes:
    """An answer's headers as the lines of its head (``_asgi.Direct.respond_lines``): the
    metadata (:func:`meta_lines`), its cost (:func:`cost_lines`), the key's
    (``Exchange.key_lines``) and its type, in that order; the answer's usage and cost
    booked on the exchange."""
    usage = result.response.get("usage")
    ticket = exchange.ticket
    if (ticket is not None and ticket.settled and ticket.usage is usage
            and ticket.deployment_id == deployment.id):
        price = ticket.cost  # priced by its settlement (the same prices: see ``cost_of``)
    else:
        price = deployment.cost(usage, info)
    exchange.used(usage, cost=price)
    lines = (meta_lines(call_id, deployment, result.retries, result.fallbacks)
             + cost_lines(price))
    if ticket is not None or exchange.key is not None:  # (the master key: none)
        lines += exchange.key_lines()
    return lines + _JSON_LINE


async def respond_result(scope: Scope, send: Send, result: RouteResult[Any],
                         deployment: Deployment, call_id: bytes, start: float,
                         upstream: float, exchange: Exchange, info: ModelInfo | None = None
                         ) -> None:
    """A JSON answer with the metadata headers (its cost by ``info``'s prices when it is
    not the deployment's model); the overhead is taken last."""
    lines = _result_lines(result, deployment, call_id, info, exchange)
    payload = orjson.dumps(result.response)
    lines += b"%b: %b\r\n" % overhead_header(start, upstream)
    direct: Direct | None = scope.get(DIRECT)  # (the proxy's server: in one write)
    if direct is not None and direct.respond_lines(200, lines, payload):
        return
    headers = header_pairs(lines)
    headers.append((b"content-length", b"%d" % len(payload)))
    # respond()'s two messages, sent from here: a coroutine less on every answer.
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def respond_in_pieces(send: Send, result: RouteResult[Any], deployment: Deployment,
                            call_id: bytes, start: float, upstream: float,
                            big: BigAnswers, exchange: Exchange,
                            info: ModelInfo | None = None) -> None:
    """Like :func:`respond_result`, for an answer that may be big and hold the upstream's
    own bytes (``gatewise._rawjson``: an embeddings answer): written a piece of bounded size
    at a time, each piece in a turn of the event loop of its own, so a big answer never
    holds the loop for long nor sits whole in memory a second time; once sent, its memory
    goes back to the system (``big``)."""
    headers = header_pairs(_result_lines(result, deployment, call_id, info, exchange))
    pieces = encode_chunks(result.response)
    first = next(pieces)
    second = next(pieces, None)
    headers.append(overhead_header(start, upstream))
    if second is None:  # a small answer: one piece, with its length
        await respond(send, 200, first, headers)
        return
    sent = 0
    big.started()
    try:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for piece in itertools.chain((first, second), pieces):
            if sent:
                await asyncio.sleep(0)  # each piece in a turn of its own
            sent += len(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        big.done(sent)
