"""Watching an SDK call: its record for the callbacks (``gatewise.callbacks``) and, when the
application has set an OpenTelemetry tracer provider, its span (``gatewise.telemetry.otel.
sdk``).  The logic ``Client``, ``AsyncClient`` and ``Router`` share.

A client or router calls in here only when it has callbacks or a tracer provider is set
(:func:`tracing`: a look in ``sys.modules``, nothing imported); otherwise its calls are
what they were.  A stream is handed back wrapped (:class:`WatchedStream`,
:class:`AsyncWatchedStream`: still a ``Stream`` / ``AsyncStream``), and reported when it
ends.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gatewise._callback_styles import LiteLLMStyle
from gatewise._streaming import AsyncStream, Stream
from gatewise.record import RequestRecord

if TYPE_CHECKING:
    from gatewise.catalogue import Catalogue
    from gatewise.router.result import RouteResult
    from gatewise.telemetry.otel.sdk import CallSpan

__all__ = ["AsyncWatchedStream", "Watched", "WatchedStream", "tracing"]

logger = logging.getLogger("gatewise.callbacks")


def tracing() -> bool:
    """Whether the application has set an OpenTelemetry tracer provider (without importing
    OpenTelemetry when nothing has)."""
    trace = sys.modules.get("opentelemetry.trace")
    return trace is not None and not isinstance(trace.get_tracer_provider(),
                                                trace.ProxyTracerProvider)


class Watched:
    """One call: its record, its span, the callbacks to tell at the end."""

    __slots__ = ("_catalogue", "_ended", "_models", "_params", "_payload", "_started",
                 "callbacks", "record", "span")

    def __init__(self, callbacks: Sequence[Any], route: str, model: str,
                 params: Mapping[str, Any], catalogue: Catalogue | None, *,
                 payload: Any = None, routed: bool = False,
                 models: Mapping[str, str] | None = None) -> None:
        record = self.record = RequestRecord(os.urandom(16).hex(), route, time.time())
        if routed:
            record.model_group = model
        else:
            record.model = model
        record.stream = bool(params.get("stream"))
        record.mock = params.get("mock_response") is not None
        self.callbacks = callbacks
        self._catalogue = catalogue
        self._models = models  # a router's: deployment id -> upstream model
        self._payload, self._params = payload, params  # for LiteLLM-style callbacks
        self._started = time.perf_counter()
        self._ended = False
        self.span: CallSpan | None = None
        if tracing():
            from gatewise.telemetry.otel.sdk import CallSpan, capture_content

            self.span = CallSpan(route, model, params, routed=routed)
            if capture_content() and payload is not None:
                record.prompt = payload

    # -- around the call ----------------------------------------------------------------------

    def enter(self) -> None:
        if self.span is not None:
            self.span.enter()

    def leave(self) -> None:
        if self.span is not None:
            self.span.leave()

    def routed(self, result: RouteResult[Any], deployment_model: str | None) -> Any:
        """What the router said: who served, what it took; returns the response."""
        record = self.record
        record.deployment_id, record.model = result.deployment_id, deployment_model
        record.retries, record.fallbacks = result.retries, result.fallbacks
        return result.response

    # -- the outcome ------------------------------------------------------------------------

    def answered(self, response: Any) -> None:
        """A whole answer (a typed response)."""
        record = self.record
        record.status = 200
        record.latency = time.perf_counter() - self._started
        self._usage(getattr(response, "usage", None))
        cost = getattr(response, "cost", None)
        if isinstance(cost, float | int):
            record.cost = float(cost)
        model = getattr(response, "model", None)
        if isinstance(model, str):
            record.response_model = model
        choices = getattr(response, "choices", None) or ()
        record.finish_reasons = tuple(c.finish_reason for c in choices
                                      if isinstance(getattr(c, "finish_reason", None), str))
        if record.prompt is not None:
            record.completion = [getattr(c, "message", None) for c in choices]
        self._end(None)

    def chunk(self, chunk: Any) -> None:
        """A stream's chunk: the first one's time, the usage, the finish reasons."""
        record = self.record
        if record.ttft is None:
            record.ttft = time.perf_counter() - self._started
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self._usage(usage)
        for choice in getattr(chunk, "choices", None) or ():
            reason = getattr(choice, "finish_reason", None)
            if isinstance(reason, str):
                record.finish_reasons = (*record.finish_reasons, reason)

    def stream_ended(self, error: BaseException | None, *, early: bool = False) -> None:
        record = self.record
        record.latency = time.perf_counter() - self._started
        record.abandoned = early and error is None
        if error is None:
            record.status = 200
            if record.model is not None and not record.mock:
                from gatewise.catalogue import cost_for_usage, default_catalogue

                catalogue = self._catalogue or default_catalogue()
                usage = {"prompt_tokens": record.prompt_tokens,
                         "completion_tokens": record.completion_tokens}
                record.cost = cost_for_usage(catalogue.get(record.model), usage) or 0.0
        else:
            self._failure(error)
        self._end(error)

    def failed(self, error: BaseException) -> None:
        self.record.latency = time.perf_counter() - self._started
        self._failure(error)
        self._end(error)

    def _failure(self, error: BaseException) -> None:
        record = self.record
        status = getattr(error, "status_code", None)
        record.status = status if isinstance(status, int) else 0
        record.error_type = getattr(error, "openai_type", None) or type(error).__name__
        retries = getattr(error, "attempted_retries", None)
        if isinstance(retries, int):
            record.retries = retries
        fallbacks = getattr(error, "attempted_fallbacks", None)
        if isinstance(fallbacks, int):
            record.fallbacks = fallbacks
        if record.deployment_id is None and self._models is not None:  # the last one tried
            from gatewise.router.policy import last_tried

            last = last_tried(error)
            if last is not None:
                record.deployment_id, record.model = last, self._models.get(last)

    def _usage(self, usage: Any) -> None:
        if usage is None:
            return
        record = self.record
        record.prompt_tokens = _count(_field(usage, "prompt_tokens"))
        record.completion_tokens = _count(_field(usage, "completion_tokens"))
        details = _field(usage, "completion_tokens_details")
        if details is not None:
            record.reasoning_tokens = _count(_field(details, "reasoning_tokens"))

    def _end(self, error: BaseException | None) -> None:
        self._ended = True
        if self.span is not None:
            try:
                self.span.end(self.record, error)
            except Exception:
                logger.exception("could not end the call's span")

    # -- telling the callbacks ------------------------------------------------------------

    def tell(self, response: Any = None, error: BaseException | None = None) -> None:
        name = "log_success_event" if error is None else "log_failure_event"
        for callback in self.callbacks:
            try:
                if type(callback) is LiteLLMStyle:
                    callback.tell(self.record, self._payload, self._params, response, error)
                    continue
                method = getattr(callback, name, None)
                if method is not None:
                    method(self.record, response if error is None else error)
            except Exception:
                logger.exception("the callback %s failed on %s", _name(callback), name)

    async def atell(self, response: Any = None, error: BaseException | None = None) -> None:
        name = "log_success_event" if error is None else "log_failure_event"
        for callback in self.callbacks:
            try:
                if type(callback) is LiteLLMStyle:
                    await callback.atell(self.record, self._payload, self._params, response,
                                         error)
                    continue
                method = (getattr(callback, "async_" + name, None)
                          or getattr(callback, name, None))
                if method is None:
                    continue
                done = method(self.record, response if error is None else error)
                if isinstance(done, Awaitable):
                    await done
            except Exception:
                logger.exception("the callback %s failed on %s", _name(callback), name)

    # -- a whole call -----------------------------------------------------------------------

    def call(self, run: Callable[[], Any]) -> Any:
        """Run a blocking call under watch."""
        self.enter()
        try:
            answer = run()
        except BaseException as exc:
            self.leave()
            self.failed(exc)
            self.tell(error=exc)
            raise
        self.leave()
        return self.answer(answer)

    def answer(self, answer: Any) -> Any:
        if isinstance(answer, Stream):
            return WatchedStream(answer, self)
        self.answered(answer)
        self.tell(answer)
        return answer

    async def acall(self, run: Callable[[], Awaitable[Any]]) -> Any:
        """Run an async call under watch."""
        self.enter()
        try:
            answer = await run()
        except BaseException as exc:
            self.leave()
            self.failed(exc)
            await self.atell(error=exc)
            raise
        self.leave()
        return await self.aanswer(answer)

    async def aanswer(self, answer: Any) -> Any:
        if isinstance(answer, AsyncStream):
            return AsyncWatchedStream(answer, self)
        self.answered(answer)
        await self.atell(answer)
        return answer


def _name(callback: Any) -> str:
    return callback.name if type(callback) is LiteLLMStyle else type(callback).__name__


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _count(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


class WatchedStream(Stream[Any]):
    """A stream reported when it ends (its last chunk, a failure, or closed early)."""

    def __init__(self, inner: Stream[Any], watched: Watched) -> None:
        self._inner = inner
        self._watched = watched
        self._closed = False

    @property
    def usage(self) -> Any:
        return self._inner.usage

    def __next__(self) -> Any:
        try:
            chunk = next(self._inner)
        except StopIteration:
            self._report(None)
            raise
        except BaseException as exc:
            self._report(exc)
            raise
        self._watched.chunk(chunk)
        return chunk

    def _report(self, error: BaseException | None, *, early: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        self._watched.stream_ended(error, early=early)
        self._watched.tell(error=error)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._report(None, early=True)


class AsyncWatchedStream(AsyncStream[Any]):
    """The asyncio twin of :class:`WatchedStream`."""

    def __init__(self, inner: AsyncStream[Any], watched: Watched) -> None:
        self._inner = inner
        self._watched = watched
        self._closed = False
        self._on_close = None

    @property
    def usage(self) -> Any:
        return self._inner.usage

    async def __anext__(self) -> Any:
        try:
            chunk = await self._inner.__anext__()
        except StopAsyncIteration:
            await self._report(None)
            raise
        except BaseException as exc:
            await self._report(exc)
            raise
        self._watched.chunk(chunk)
        return chunk

    async def _report(self, error: BaseException | None, *, early: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        self._watched.stream_ended(error, early=early)
        await self._watched.atell(error=error)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            await self._report(None, early=True)

    def __del__(self) -> None:
        # Dropped unfinished and unclosed: reported (and the callbacks told) on the loop.
        if not self._closed:
            import asyncio

            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            task = loop.create_task(self.aclose())
            _PENDING.add(task)
            task.add_done_callback(_PENDING.discard)


_PENDING: set[Any] = set()
