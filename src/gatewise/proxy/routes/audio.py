"""``POST /audio/transcriptions``: OpenAI's multipart form in, through the router to
Mistral's, OpenAI's answer out (JSON, ``text/plain`` for ``response_format=text``, or an
SSE stream of ``transcript.text.*`` events).

The form is read as it arrives (``_form``).  Its fields up to the file part are usually
all there is (the ``openai`` package sends the file last): the call then starts when the
file does, and the file is relayed to the upstream as it comes in (``_upload``).  A form
that names its model only after the file is read whole first (the file into a spool on
disk); one with fields after the file is called again with them, from the spool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from time import perf_counter
from typing import Any

import orjson

from gatewise._exceptions import APIError
from gatewise._transcription import transcription_cost
from gatewise.proxy._asgi import JSON_TYPE, Receive, Scope, Send, respond
from gatewise.proxy._form import FILE_FIELD, FormReader
from gatewise.proxy._upload import Upload
from gatewise.proxy.deployments import Deployment, check_fields
from gatewise.proxy.errors import bad_request
from gatewise.proxy.exchange import Exchange, exchange_of
from gatewise.proxy.routes._common import (
    admit,
    cost_headers,
    meta_headers,
    overhead_header,
    upstream_error,
)
from gatewise.proxy.sse import relay
from gatewise.proxy.state import AppState
from gatewise.router.result import RouteResult
from gatewise.state.ticket import Ticket

MODE = "audio_transcription"
TEXT_TYPE = (b"content-type", b"text/plain; charset=utf-8")
_LISTS = frozenset({"timestamp_granularities", "context_bias", "include"})
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def form_params(fields: list[tuple[str, str]], mock_only: Collection[str]
                ) -> tuple[Any, dict[str, Any]]:
    """The model and the call's parameters from the form's text fields, typed as the
    JSON API has them (``name[]`` and repeated list fields become lists)."""
    params: dict[str, Any] = {}
    for raw, value in fields:
        name = raw.removesuffix("[]")
        if name in _LISTS or raw.endswith("[]"):
            params.setdefault(name, []).append(value)
        else:
            params[name] = value
    if FILE_FIELD in params:
        raise bad_request("`file` must be a file part (the audio), not a text field",
                          param=FILE_FIELD)
    for name in ("stream", "diarize"):
        if name in params:
            flag = _BOOLEANS.get(str(params[name]).lower())
            if flag is None:
                raise bad_request(f"`{name}` must be true or false", param=name)
            params[name] = flag
    if "temperature" in params:
        try:
            params["temperature"] = float(params["temperature"])
        except (TypeError, ValueError):
            raise bad_request("`temperature` must be a number", param="temperature") from None
    name = params.pop("model", None)
    check_fields(params, name, mock_only)
    return name, params


async def _call(state: AppState, name: Any, upload: Upload | None, params: dict[str, Any],
                call_id: bytes, ticket: Ticket | None
                ) -> tuple[RouteResult[Any], dict[str, Any]]:
    """The routed call, and its parameters.  The client's faults while its upload is
    relayed are answered as the client's; a form with fields after its file is called
    again with them."""
    try:
        return await state.router.atranscription_sse(name, upload, admission=ticket,
                                                     **params), params
    except asyncio.CancelledError:
        if upload is None or (upload.failure is None and not upload.restart):
            raise  # the server is shutting down
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            task.uncancel()
    except APIError as exc:
        if upload is None or (upload.failure is None and not upload.restart):
            raise upstream_error(exc, call_id, state.by_id) from None
    if upload.failure is not None:
        raise upload.failure
    name, params = form_params(upload.early + upload.late, state.mock_only)
    state.check_served(name, mode=MODE)
    try:
        return await state.router.atranscription_sse(name, upload, admission=ticket,
                                                     **params), params
    except APIError as exc:
        raise upstream_error(exc, call_id, state.by_id) from None


def _cost(deployment: Deployment, usage: Any) -> float | None:
    if deployment.is_mock:
        return 0.0
    config = deployment.config
    if config.input_cost_per_token is not None or config.output_cost_per_token is not None:
        usage = usage if isinstance(usage, dict) else {}
        return deployment.cost({"prompt_tokens": usage.get("input_tokens"),
                                "completion_tokens": usage.get("output_tokens")})
    return transcription_cost(deployment.info, usage)


async def transcriptions(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    exchange = exchange_of(scope)
    start = exchange.started
    reader = FormReader(scope, receive, max_file=state.max_audio_upload,
                        deadlines=state.deadlines, client_timeout=state.client_timeout)
    fields: list[tuple[str, str]] = []
    upload: Upload | None = None
    try:
        while (event := await reader.next())[0] == "field":
            fields.append((event[1], event[2]))
        if event[0] == "file":
            upload = Upload(reader, event[1], event[2], fields)
            if not any(n == "model" for n, _ in fields):
                await upload.receive_all()  # the model comes later: read it all first
        name, params = form_params(upload.early + upload.late if upload else fields,
                                   state.mock_only)
        state.check_served(name, mode=MODE)
        if upload is None and not (params.get("file_url") or params.get("file_id")):
            raise bad_request("`file` is required: the audio to transcribe", param=FILE_FIELD)
        call_id = exchange.call_id
        ticket = await admit(state, scope, exchange, name, "", params)
        exchange.record.stream = bool(params.get("stream"))
        sent = perf_counter()
        result, params = await _call(state, name, upload, params, call_id, ticket)
        if upload is not None:
            upload.detach()
        upstream = perf_counter() - sent
        exchange.served(result, state.by_id[result.deployment_id], upstream)
        await _answer(state, result, params, exchange, start, upstream, receive, send)
    finally:
        if upload is not None:
            upload.close()


async def _answer(state: AppState, result: RouteResult[Any], params: dict[str, Any],
                  exchange: Exchange, start: float, upstream: float, receive: Receive,
                  send: Send) -> None:
    deployment = state.by_id[result.deployment_id]
    call_id = exchange.call_id
    headers = meta_headers(call_id, deployment, result.retries, result.fallbacks)
    headers += exchange.key_headers()
    response = result.response
    if not isinstance(response, dict):  # a stream of SSE bytes, its first block in
        headers.append(overhead_header(start, upstream))
        await relay(response, receive, send, headers, deployment, call_id,
                    state.client_timeout, exchange)
        return
    price = _cost(deployment, response.get("usage"))
    exchange.used(None, cost=price)
    headers += cost_headers(price)
    if params.get("response_format") == "text":
        headers.append(TEXT_TYPE)
        payload = str(response.get("text", "")).encode()
    else:
        headers.append(JSON_TYPE)
        payload = orjson.dumps(response)
    headers.append(overhead_header(start, upstream))  # taken last
    await respond(send, 200, payload, headers)
