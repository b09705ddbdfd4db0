"""One attempt on one deployment: the call under its deadline, and the bookkeeping around it.

In flight is counted from the router's ``acquire`` (which also counts the request against
rpm/tpm) until the answer is read, or, for a stream, until the stream ends or is closed; the
latency and the tokens actually used are booked with the release, in the same store call.
A stream counts as started once its first chunk has arrived within ``stream_timeout``;
until then any failure (status, connection, silence) is the attempt's and the router may
go elsewhere; after it, errors reach the caller as they are.  ``stream_timeout`` is also the
stream's idle timeout (the client's read timeout): a silence that long between two chunks
ends the stream with an ``APITimeoutError``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from gatewise._exceptions import APIError, APITimeoutError
from gatewise._http._propagate import CONTEXT_HEADERS
from gatewise._streaming import AsyncStream, same
from gatewise.router._deadline import PerLoop
from gatewise.router.deployments import Deployment
from gatewise.router.store import StateStore
from gatewise.router.wildcards import concrete_model

if TYPE_CHECKING:
    from gatewise.router.observe import AttemptObserver, Watch
    from gatewise.state.ticket import Ticket

Send = Callable[..., Awaitable[Any]]
OnFailure = Callable[[Deployment, APIError], Awaitable[None]]
logger = logging.getLogger("gatewise.router")


class CallSpec(NamedTuple):
    """The parts of a routed call that are the same on every deployment (a tuple: one is
    made per call, on the hot path)."""

    payload: Any
    """``messages`` for chat, ``input`` for embeddings."""
    params: Mapping[str, Any]
    stream: bool
    timeout: float | None
    stream_timeout: float | None
    tokens: int
    """Estimated prompt tokens, counted against tpm when the deployment is reserved."""
    model: str | None = None
    """For a wildcard group: what the ``*`` of each deployment's ``model`` stands for."""
    ticket: Ticket | None = None
    """The proxy's admission ticket (key limits, budget): taken with the first acquire,
    settled with the release of the attempt that served the call."""


def usage_of(obj: Any) -> Any:
    """The ``usage`` of a response, chunk or relayed stream (dict or model), or None (an
    OCR answer's is its ``usage_info``: pages)."""
    if isinstance(obj, dict):
        usage = obj.get("usage")
        return obj.get("usage_info") if usage is None else usage
    return getattr(obj, "usage", None)


def total_tokens(obj: Any) -> int | None:
    """``usage.total_tokens`` of a response or chunk (dict or model), if it says."""
    usage = usage_of(obj)
    if usage is None:
        return None
    total = usage.get("total_tokens") if isinstance(usage, dict) else getattr(
        usage, "total_tokens", None)
    return total if isinstance(total, int) else None


def _chars(value: Any) -> int:
    """The characters of the strings in ``value`` (a dict's ``role`` left out); a plain
    string item is counted in place (no call: most of a prompt's items are)."""
    if isinstance(value, str):
        return len(value)
    count = 0
    if isinstance(value, dict):
        for key, item in value.items():
            if key != "role":
                count += len(item) if type(item) is str else _chars(item)
    elif isinstance(value, list | tuple):
        for item in value:
            count += len(item) if type(item) is str else _chars(item)
    return count


def estimate_tokens(payload: Any) -> int:
    """A cheap prompt-size guess (about four characters a token) for tpm accounting."""
    return max(1, _chars(payload) // 4)


def _timeout_error(deployment: Deployment, what: str, seconds: float) -> APITimeoutError:
    provider, _, model = deployment.model.partition("/")
    return APITimeoutError(f"{what} within {seconds:g} s", provider=provider or None,
                           model=model or deployment.model)


def model_of(deployment: Deployment, spec: CallSpec) -> str:
    """The model a call asks ``deployment`` for (a wildcard deployment's, made concrete)."""
    return deployment.model if spec.model is None else concrete_model(deployment.model,
                                                                      spec.model)


async def _first_of(send: Send, deployment: Deployment, spec: CallSpec,
                    params: dict[str, Any]) -> tuple[Any, Any]:
    """Open the stream and wait for its first chunk (``_END`` if it has none); a failure
    on the way closes it."""
    upstream = await send(model_of(deployment, spec), spec.payload, **params)
    try:
        return upstream, await upstream.__anext__()
    except StopAsyncIteration:
        return upstream, _END
    except BaseException:
        await upstream.aclose()
        raise


class Caller:
    """Runs attempts; owns the in-flight, latency and token bookkeeping."""

    def __init__(self, store: StateStore, clock: Callable[[], float], on_failure: OnFailure,
                 *, timeout: float | None, stream_timeout: float | None,
                 capped: bool = False) -> None:
        self._store = store
        self._clock = clock
        self.on_failure = on_failure
        self._timeout = timeout
        self._stream_timeout = stream_timeout
        self._capped = capped
        # By kind of call (stream or not), then deployment id: see _base.
        self._bases: tuple[dict[str, tuple[dict[str, Any], float | None]], ...] = ({}, {})
        self._deadlines = PerLoop()
        self.observer: AttemptObserver | None = None
        # The attempt the engine makes: the plain one, or the watched one (observe()).
        self.call: Callable[[Deployment, Send, CallSpec], Awaitable[Any]] = self._call

    def observe(self, observer: AttemptObserver | None) -> None:
        """Tell ``observer`` of every attempt from now on (None: stop)."""
        self.observer = observer
        self.call = self._call if observer is None else self._watched

    def _base(self, deployment: Deployment, spec: CallSpec) -> tuple[dict[str, Any],
                                                                     float | None]:
        """The deployment's call parameters as a plain dict (merging a mapping proxy on
        every call costs more), with the SDK's own retries off (the router decides) and
        the call's timeout in (for a stream, its first chunk's and longest silence's).
        Made once per deployment and kind of call, unless the call sets its own timeouts:
        then, when ``capped``, they may lower the configured one, never raise it."""
        known = self._bases[spec.stream].get(deployment.id)
        if known is None:
            known = self._made(deployment, spec.stream, None, None)
            self._bases[spec.stream][deployment.id] = known
        if spec.timeout is None and spec.stream_timeout is None:
            return known
        base, timeout = self._made(deployment, spec.stream, spec.timeout, spec.stream_timeout)
        allowed = known[1]
        if self._capped and allowed is not None and (timeout is None or timeout > allowed):
            base["timeout"] = timeout = allowed
        return base, timeout

    def _made(self, deployment: Deployment, stream: bool, call_timeout: float | None,
              call_stream_timeout: float | None) -> tuple[dict[str, Any], float | None]:
        base = {**deployment.params, "num_retries": 0}
        timeout = call_timeout or deployment.timeout or self._timeout
        if stream:
            timeout = (call_stream_timeout or deployment.stream_timeout
                       or self._stream_timeout or timeout)
        if timeout is not None:
            base["timeout"] = timeout
        return base, timeout

    def timeout_for(self, deployment: Deployment, spec: CallSpec) -> float | None:
        """The time a call on ``deployment`` may take (a stream: its first chunk's wait)."""
        return self._base(deployment, spec)[1]

    async def _watched(self, deployment: Deployment, send: Send, spec: CallSpec) -> Any:
        """:meth:`_call`, told to the observer (a stream's end is told by its relay)."""
        observer = self.observer
        try:
            assert observer is not None
            watch = observer.attempt_started(deployment, model_of(deployment, spec),
                                             spec.stream)
        except Exception:
            logger.exception("the attempt observer failed; the attempt goes on unwatched")
            return await self._call(deployment, send, spec)
        token = CONTEXT_HEADERS.set(watch.headers) if watch.headers else None
        try:
            answer = await self._call(deployment, send, spec)
        except BaseException as exc:
            _ended(watch, exc, None)
            raise
        finally:
            if token is not None:
                CONTEXT_HEADERS.reset(token)
        if isinstance(answer, _Relay):
            answer.watch = watch
        else:
            _ended(watch, None, usage_of(answer))
        return answer

    async def _call(self, deployment: Deployment, send: Send, spec: CallSpec) -> Any:
        """Call ``deployment``, which the router has acquired (it is counted in flight)."""
        handed_over = False
        latency: float | None = None
        tokens = 0
        served: Any = None
        started = time.perf_counter()
        try:
            known = self._bases[spec.stream].get(deployment.id)
            if known is not None and spec.timeout is None and spec.stream_timeout is None:
                base, timeout = known  # the usual call: _base's first lines
            else:
                base, timeout = self._base(deployment, spec)
            params = {**base, **spec.params}  # no call option in spec.params (see _route)
            headers = base.get("extra_headers")
            if headers and spec.params.get("extra_headers"):  # the deployment's win
                params["extra_headers"] = {**spec.params["extra_headers"], **headers}
            if spec.stream:
                stream = await self._open(deployment, send, spec, params, timeout, started)
                handed_over = True
                return stream
            model = deployment.model if spec.model is None else model_of(deployment, spec)
            if timeout is None:
                response = await send(model, spec.payload, **params)
            else:
                try:
                    with self._deadlines.within(timeout):
                        response = await send(model, spec.payload, **params)
                except TimeoutError:
                    raise _timeout_error(deployment, "no answer", timeout) from None
            latency = time.perf_counter() - started
            usage = response.get("usage") if type(response) is dict else None
            used = (usage.get("total_tokens") if type(usage) is dict
                    else total_tokens(response))  # (a dict's, read here: the usual answer)
            if isinstance(used, int):
                tokens = used - spec.tokens
            served = response
            return response
        except APITimeoutError:
            # A timeout is a latency too: it keeps latency-based routing away from it.
            latency = time.perf_counter() - started
            raise
        finally:
            if not handed_over:
                # Only the attempt that served the call settles its ticket: a failed one
                # may be followed by another (the proxy settles a call that failed).
                ticket = spec.ticket if served is not None else None
                if ticket is not None:
                    settle_ticket(ticket, deployment, served)
                await self._store.release(deployment.id, self._clock(), latency=latency,
                                          first_token=spec.stream, tokens=tokens,
                                          ticket=ticket)

    async def _open(self, deployment: Deployment, send: Send, spec: CallSpec,
                    params: dict[str, Any], limit: float | None, started: float) -> Any:
        if limit is None:
            upstream, first = await _first_of(send, deployment, spec, params)
        else:
            try:
                with self._deadlines.within(limit):
                    upstream, first = await _first_of(send, deployment, spec, params)
            except TimeoutError:
                raise _timeout_error(deployment, "no first chunk", limit) from None
        # The time to its first chunk is booked with the stream's release: one store call
        # (one round trip to a shared store) less per stream.
        return _Relay(self, deployment, spec, upstream, first, time.perf_counter() - started)

    async def stream_ended(self, deployment: Deployment, spec: CallSpec, used: int | None,
                           usage: Any, ttft: float) -> None:
        tokens = 0 if used is None else used - spec.tokens
        ticket = spec.ticket
        if ticket is not None:
            if usage is None:
                usage = ticket.fallback_usage
            settle_ticket(ticket, deployment, {"usage": usage} if usage is not None else None)
        await self._store.release(deployment.id, self._clock(), latency=ttft, first_token=True,
                                  tokens=tokens, ticket=ticket)


def _ended(watch: Watch, error: BaseException | None, usage: Any) -> None:
    try:
        watch.ended(error, usage)
    except Exception:
        logger.exception("the attempt observer failed at the end of an attempt")


def settle_ticket(ticket: Ticket, deployment: Deployment, answer: Any) -> None:
    """Fill in what the settlement books: who served, the usage, its cost and tokens."""
    usage: Any = usage_of(answer) if answer is not None else None
    if hasattr(usage, "model_dump"):
        usage = usage.model_dump()
    ticket.deployment_id = deployment.id
    ticket.usage = usage
    ticket.used_tokens = total_tokens(answer) if answer is not None else None
    ticket.cost = ticket.cost_for(deployment.id, usage)


_END: Any = object()
_CLEANUPS: set[asyncio.Task[None]] = set()


class _Relay(AsyncStream[Any]):
    """The routed stream: the first chunk (already received), then the rest from upstream.

    Errors after the first chunk reach the caller (and count against the deployment);
    the deployment is never switched mid-stream.  In flight is released exactly once: at
    the end, on ``aclose()`` (even before iterating), or soon after the stream is dropped.
    It is the ``AsyncStream`` the caller gets (not one wrapped around it): a relayed
    stream passes through it once per upstream read.  It overrides every method of the
    base, which it extends for the type alone.
    """

    def __init__(self, caller: Caller, deployment: Deployment, spec: CallSpec, upstream: Any,
                 first: Any, ttft: float) -> None:
        super().__init__(upstream, same)
        self._caller = caller
        self._deployment = deployment
        self._spec = spec
        self._upstream = upstream
        # Read past the upstream stream's own __anext__ when it adds nothing (this closes
        # it as that would: on the end, on any error).
        self._items = upstream.items() if isinstance(upstream, AsyncStream) else upstream
        self._first = first
        self._ttft = ttft
        self._used: int | None = None
        self._usage: Any = None
        self.watch: Watch | None = None  # the attempt's observer (Caller._watched)
        self._error: BaseException | None = None  # what broke the stream, if anything
        # Chunk objects carry usage; a relayed stream's bytes do not (it says at the end).
        self._chunks_say_usage = not isinstance(first, bytes)

    @property
    def usage(self) -> dict[str, Any] | None:
        return cast("dict[str, Any] | None", getattr(self._upstream, "usage", None))

    async def __anext__(self) -> Any:
        if self._closed:
            raise StopAsyncIteration
        if self._first is not _END:
            chunk, self._first = self._first, _END
        else:
            try:
                chunk = await self._items.__anext__()
            except StopAsyncIteration:
                await self.aclose()
                raise
            except APIError as exc:
                self._error = exc
                await self._caller.on_failure(self._deployment, exc)
                await self.aclose()
                raise
            except BaseException as exc:
                if isinstance(exc, Exception):
                    self._error = exc
                await self.aclose()
                raise
        if self._chunks_say_usage:
            usage = usage_of(chunk)
            if usage is not None:
                self._usage = usage
                self._used = total_tokens(chunk) or self._used
        return chunk

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._upstream is not None:
                await self._upstream.aclose()
        finally:
            if self._usage is None:  # a relayed stream (bytes) knows its usage itself
                self._usage = self.usage
                self._used = total_tokens(self._upstream)
            await self._caller.stream_ended(self._deployment, self._spec, self._used,
                                            self._usage, self._ttft)
            watch, self.watch = self.watch, None
            if watch is not None:
                _ended(watch, self._error, self._usage)

    def items(self) -> AsyncIterator[Any]:
        return self

    def push(self, emit: Callable[[Any], bool]) -> bool:
        """From the second item on, have the items handed to ``emit`` as they arrive while
        ``__anext__`` waits (``Events.push``): for a relayed stream of bytes, which needs
        nothing done here per item.  False when they cannot be."""
        if self._closed or self._first is not _END or self._chunks_say_usage:
            return False
        push = getattr(self._items, "push", None)
        return push is not None and bool(push(emit))

    def release_soon(self) -> None:
        """For a stream dropped without ``aclose()``: release it on the running loop."""
        if self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.aclose())
        _CLEANUPS.add(task)
        task.add_done_callback(_CLEANUPS.discard)

    def __del__(self) -> None:
        self.release_soon()
