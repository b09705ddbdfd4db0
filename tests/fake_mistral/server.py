"""``FakeMistral``: a real HTTP server on 127.0.0.1 speaking Mistral's API, strictly.

It runs aiohttp in a background thread with its own event loop, so sync and async clients
alike talk to it over a socket. Tests drive it through its attributes: ``requests`` (what
arrived), ``script(...)`` (misbehaviour), ``respond_with(...)``, ``stream_delay`` and the
disconnect counters.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from . import endpoints
from .answers import Answer, answer_from_message, plan_answer
from .behaviors import BadEvent, Behavior, CutStream, Delay, Garbage, StallStream, Status
from .classifiers import ENDPOINTS as CLASSIFIERS
from .embeddings import embedding_reply
from .errors import invalid_model
from .models import MODELS, model_card
from .platform import Platform
from .render import Reply
from .semantics import semantic_error
from .tokens import count_tokens, prompt_tokens
from .validator import Error, validate_body
from .wire import (
    JSON,
    SSE,
    answer_headers,
    drop_connection,
    json_response,
    parse_json_body,
    status_response,
)

DEFAULT_API_KEY = "test-key"
FIM_TEXT = "    return a + b\n"


@dataclass(frozen=True)
class _Exchange:
    """One request on its way to an endpoint: the parsed body and the scripted behaviour."""

    request: web.Request
    body: Any
    errors: list[Error]  # FastAPI's 422 items when the body is not JSON
    behavior: Behavior | None


_Endpoint = Callable[[_Exchange], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: CIMultiDict[str]  # a dict whose keys ignore case, as HTTP's do
    json: Any | None
    raw: bytes


class FakeMistral:
    """The fake server; use as a context manager (``with FakeMistral() as fake: ...``)."""

    def __init__(self) -> None:
        self.api_keys: set[str] = {DEFAULT_API_KEY}
        self.requests: list[RecordedRequest] = []
        self.stream_delay = 0.0
        self.disconnects = 0
        self.disconnected = threading.Event()
        self._script: deque[Behavior] = deque()
        self._override: tuple[dict[str, Any], str] | None = None
        self.platform = Platform()  # files and batch jobs created through the fake
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="fake-mistral", daemon=True)
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- control -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def script(self, *behaviors: Behavior) -> None:
        """Queue behaviours; each authenticated request consumes one, in order."""
        self._script.extend(behaviors)

    def respond_with(self, message: dict[str, Any], finish_reason: str = "stop") -> None:
        """Answer the next valid chat/FIM request with this assistant ``message``."""
        self._override = (message, finish_reason)

    def reset(self) -> None:
        """Forget requests, scripts, overrides and counters; restore the default settings."""
        self.api_keys = {DEFAULT_API_KEY}
        self.requests.clear()
        self.stream_delay = 0.0
        self.disconnects = 0
        self.disconnected.clear()
        self._script.clear()
        self._override = None
        self.platform.reset()

    def start(self) -> FakeMistral:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(sock), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        # Handlers still running (a stalled stream whose client never came back) end here,
        # not as "Task was destroyed but it is pending" when the loop closes.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _run_loop(self) -> None:
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    def __enter__(self) -> FakeMistral:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def _serve(self, sock: socket.socket) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)  # uploads
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    # -- every request: record, route, authenticate, misbehave, then the endpoint --------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body, errors = parse_json_body(raw)
        recorded = RecordedRequest(
            request.method, request.path, CIMultiDict(request.headers), body, raw
        )
        self.requests.append(recorded)
        endpoint, method = self._route(request.path)
        if endpoint is None:
            return json_response(404, {"detail": "Not Found"})
        if request.method not in method.split(","):
            return json_response(405, {"detail": "Method Not Allowed"})
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or key not in self.api_keys:
            return json_response(401, {"detail": "Unauthorized"}, f"{JSON}; charset=utf-8")
        behavior = self._script.popleft() if self._script else None
        if isinstance(behavior, Status):
            return status_response(behavior)
        if isinstance(behavior, Garbage):
            content_type = {"Content-Type": behavior.content_type}
            return web.Response(status=behavior.status, body=behavior.body, headers=content_type)
        if isinstance(behavior, Delay):
            await asyncio.sleep(behavior.seconds)
        return await endpoint(_Exchange(request, body, errors, behavior))

    def _route(self, path: str) -> tuple[_Endpoint | None, str]:
        """The endpoint serving ``path`` and its HTTP method."""
        if re.fullmatch(r"/v1/models/[^/]+", path):
            return self._get_model, "GET"
        if re.fullmatch(r"/v1/batch/jobs/[^/]+", path):
            return partial(endpoints.batch_job, self), "GET"
        routes: dict[str, tuple[_Endpoint, str]] = {
            "/v1/chat/completions": (self._chat, "POST"),
            "/v1/fim/completions": (self._fim, "POST"),
            "/v1/embeddings": (self._embeddings, "POST"),
            "/v1/models": (self._list_models, "GET"),
            "/v1/ocr": (partial(endpoints.ocr, self), "POST"),
            "/v1/audio/transcriptions": (partial(endpoints.transcriptions, self), "POST"),
            "/v1/files": (partial(endpoints.files, self), "GET,POST"),
            "/v1/batch/jobs": (partial(endpoints.batch_jobs, self), "POST"),
            "/v1/agents/completions": (partial(endpoints.agents_completions, self), "POST"),
            **{path: (endpoint, "POST") for path, endpoint in CLASSIFIERS.items()},
        }
        return routes.get(path, (None, ""))

    # -- endpoints ------------------------------------------------------------------------

    async def _chat(self, exchange: _Exchange) -> web.StreamResponse:
        body = exchange.body
        errors = exchange.errors or validate_body("ChatCompletionRequest", body)
        if errors:
            return json_response(422, {"detail": errors})
        error = semantic_error(body)
        if error is not None:
            return json_response(*error)
        answer = plan_answer(body, self._take_override())
        return await self._answer(
            exchange, Reply(answer, body["model"], prompt_tokens(body["messages"]))
        )

    async def _fim(self, exchange: _Exchange) -> web.StreamResponse:
        body = exchange.body
        errors = exchange.errors or validate_body("FIMCompletionRequest", body)
        if errors:
            return json_response(422, {"detail": errors})
        facts = MODELS.get(body["model"])
        if facts is None or not facts.fim:
            return json_response(*invalid_model(body["model"]))
        override = self._take_override()
        answer = answer_from_message(*override) if override else Answer(FIM_TEXT)
        tokens = count_tokens(body["prompt"]) + count_tokens(body.get("suffix") or "")
        return await self._answer(exchange, Reply(answer, body["model"], tokens))

    async def _embeddings(self, exchange: _Exchange) -> web.StreamResponse:
        errors = exchange.errors or validate_body("EmbeddingRequest", exchange.body)
        if errors:
            return json_response(422, {"detail": errors})
        return json_response(*embedding_reply(exchange.body))

    async def _list_models(self, exchange: _Exchange) -> web.StreamResponse:
        cards = [model_card(facts) for facts in MODELS.values()]
        return json_response(200, {"object": "list", "data": cards})

    async def _get_model(self, exchange: _Exchange) -> web.StreamResponse:
        facts = MODELS.get(exchange.request.path.rsplit("/", 1)[1])
        if facts is None:
            return json_response(404, {"detail": "Not Found"})
        return json_response(200, model_card(facts))

    def _take_override(self) -> tuple[dict[str, Any], str] | None:
        override, self._override = self._override, None
        return override

    # -- answering --------------------------------------------------------------------------

    async def _answer(self, exchange: _Exchange, reply: Reply) -> web.StreamResponse:
        if exchange.body.get("stream", False):
            return await self._stream(exchange, reply)
        if isinstance(exchange.behavior, CutStream):
            return drop_connection(exchange.request)
        if isinstance(exchange.behavior, StallStream):
            await asyncio.sleep(exchange.behavior.seconds)
        return json_response(200, reply.completion())

    async def _stream(self, exchange: _Exchange, reply: Reply) -> web.StreamResponse:
        """Send the SSE events, misbehaving as scripted; count clients that leave early."""
        behavior = exchange.behavior
        response = web.StreamResponse(headers={"Content-Type": SSE, **answer_headers()})
        events = [orjson.dumps(chunk) for chunk in reply.chunks()] + [b"[DONE]"]
        try:
            await response.prepare(exchange.request)
            for sent, data in enumerate(events):
                if isinstance(behavior, CutStream) and sent == behavior.after_events:
                    if not behavior.clean:
                        return drop_connection(exchange.request)
                    break
                if isinstance(behavior, StallStream) and sent == behavior.after_events:
                    await asyncio.sleep(behavior.seconds)
                if isinstance(behavior, BadEvent) and sent == behavior.after_events:
                    await response.write(b"data: {this is not json\n\n")
                if self.stream_delay:
                    await asyncio.sleep(self.stream_delay)
                await response.write(b"data: " + data + b"\n\n")
            await response.write_eof()
        except ConnectionResetError:
            self.disconnects += 1
            self.disconnected.set()
        return response
