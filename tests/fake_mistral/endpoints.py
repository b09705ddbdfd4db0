"""The fake's endpoints beyond chat, FIM, embeddings and models: OCR and transcriptions
(validated against the official schemas), and the platform endpoints the ``/mistral/*``
pass-through tests reach (files, batch jobs, agents completions).  Each is
``async (fake, exchange) -> response``; ``FakeMistral._route`` registers them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .answers import plan_answer
from .behaviors import CutStream, StallStream
from .forms import form_body, parse_form
from .media import ocr_reply, transcription_events, transcription_reply, write_events
from .render import Reply
from .semantics import semantic_error
from .tokens import prompt_tokens
from .validator import validate_body
from .wire import drop_connection, json_response

if TYPE_CHECKING:
    from .server import FakeMistral, _Exchange

_NOT_A_FORM = [{"type": "missing", "loc": ["body", "file"], "msg": "Field required",
                "input": None}]


async def _answer(exchange: _Exchange, status: int, body: Any) -> web.StreamResponse:
    """A JSON answer, misbehaving as a non-stream one may (see ``behaviors``)."""
    if isinstance(exchange.behavior, CutStream):
        return drop_connection(exchange.request)
    if isinstance(exchange.behavior, StallStream):
        await asyncio.sleep(exchange.behavior.seconds)
    return json_response(status, body)


async def ocr(fake: FakeMistral, exchange: _Exchange) -> web.StreamResponse:
    errors = exchange.errors or validate_body("OCRRequest", exchange.body)
    if errors:
        return json_response(422, {"detail": errors})
    return await _answer(exchange, *ocr_reply(exchange.body))


async def transcriptions(fake: FakeMistral, exchange: _Exchange) -> web.StreamResponse:
    request = exchange.request
    form = parse_form(await request.read(), request.headers.get("Content-Type", ""))
    if form is None:
        return json_response(422, {"detail": _NOT_A_FORM})
    streamed = any(name == "stream" and value == "true" for name, value in form)
    schema = "AudioTranscriptionRequestStream" if streamed else "AudioTranscriptionRequest"
    body, errors = form_body(form, schema)
    errors += validate_body(schema, body)
    if errors:
        return json_response(422, {"detail": errors})
    status, answer = transcription_reply(body, form)
    if status != 200 or not streamed:
        return await _answer(exchange, status, answer)
    try:
        return await write_events(request, transcription_events(answer), exchange.behavior,
                                  fake.stream_delay)
    except ConnectionResetError:
        fake.disconnects += 1
        fake.disconnected.set()
        return web.Response()


async def files(fake: FakeMistral, exchange: _Exchange) -> web.StreamResponse:
    request = exchange.request
    if request.method == "GET":
        return json_response(*fake.platform.list_files(dict(request.query)))
    form = parse_form(await request.read(), request.headers.get("Content-Type", ""))
    if form is None:
        return json_response(422, {"detail": _NOT_A_FORM})
    return json_response(*fake.platform.upload(form))


async def batch_jobs(fake: FakeMistral, exchange: _Exchange) -> web.StreamResponse:
    errors = exchange.errors or validate_body("CreateBatchJobRequest", exchange.body)
    if errors:
        return json_response(422, {"detail": errors})
    return json_response(*fake.platform.create_job(exchange.body))


async def batch_job(fake: FakeMistral, exchange: _Exchange) -> web.StreamResponse:
    return json_response(*fake.platform.get_job(exchange.request.path.rsplit("/", 1)[1]))


AGENT_MODEL = "mistral-small-latest"  # what every fake agent runs on


async def agents_completions(fake: FakeMistral, exchange: _Exchange) -> web.StreamResponse:
    body: Any = exchange.body
    errors = exchange.errors or validate_body("AgentsCompletionRequest", body)
    if errors:
        return json_response(422, {"detail": errors})
    error = semantic_error({**body, "model": AGENT_MODEL})
    if error is not None:
        return json_response(*error)
    answer = plan_answer({**body, "model": AGENT_MODEL}, None)
    return await fake._answer(exchange, Reply(answer, AGENT_MODEL,
                                              prompt_tokens(body["messages"])))
