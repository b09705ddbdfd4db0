"""``Router``: the public surface and its configuration; the routing loop is ``_engine``.

A call: resolve the name (``model_group_alias``), split the router's per-call options
(``num_retries``, ``timeout``, ``stream_timeout``, ``fallbacks``...) from the model's,
then the engine serves it through one ``AsyncClient``, passing each deployment's params
per call with the SDK's own retries off (the router owns retry decisions).  The sync
twins run the same coroutines on a private event-loop thread (see ``_sync``).
"""

from __future__ import annotations

import math
import random
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from gatewise._callback_styles import styled
from gatewise._exceptions import BadRequestError, NotFoundError
from gatewise._observe import tracing
from gatewise.router._attempt import CallSpec, Send, estimate_tokens
from gatewise.router._engine import Engine
from gatewise.router._options import (
    CALL_OPTIONS,
    PINNED,
    count,
    pinned_error,
    seconds,
    with_options,
)
from gatewise.router._sync import LoopThread, sync_stream
from gatewise.router._watched import awatched, watched
from gatewise.router.deployments import Deployment, build_deployments
from gatewise.router.endpoints import EndpointRoutes
from gatewise.router.fallbacks import FallbackConfig, parse_chains
from gatewise.router.result import DeploymentHealth, RouteResult
from gatewise.router.store import MemoryStore, StateStore
from gatewise.router.strategies import (
    EXPLORATION,
    Strategy,
    latency_based,
    strategy_named,
)
from gatewise.router.wildcards import is_pattern, match, patterns

if TYPE_CHECKING:
    from gatewise._async_client import AsyncClient
    from gatewise._streaming import AsyncStream, Stream
    from gatewise.router.observe import AttemptObserver
    from gatewise.state.ticket import Ticket
    from gatewise.types import (
        EmbeddingResponse,
        ModelResponse,
        ModelResponseChunk,
        OCRResponse,
        TranscriptionResponse,
        TranscriptionStreamEvent,
    )

JSON = dict[str, Any]

class Router(EndpointRoutes):
    """Route calls for model names over a list of deployments.  Chat and embeddings here;
    code completion, moderation and the provider's own API in :class:`EndpointRoutes`.

    ``model_list``: entries ``{"model_name": ..., "params": {"model": "mistral/...",
    "api_key": ..., "rpm": ..., "tpm": ..., "weight": ..., "order": ..., "timeout": ...,
    "stream_timeout": ...}, "model_info": {"id": ...}}``.

    ``routing_strategy``: ``simple-shuffle`` (default), ``least-busy``, ``latency-based``,
    ``usage-based`` (see :mod:`gatewise.router.strategies`); ``order`` tiers come first.
    ``num_retries``: retries per model group (an entry's own ``num_retries``/``max_retries``
    sets its group's, the most any asks; per call: ``num_retries=``), each on a
    deployment not yet tried when one is ready, else on a tried one after its
    ``Retry-After`` or a backoff -- unless a fallback group can take over, which then does
    at once.  Which errors retry: :mod:`gatewise.router.policy`.
    ``allowed_fails``: a deployment's ``allowed_fails``-th failure (5xx, timeout, connection
    error) within 60 s benches it for ``cooldown_time`` seconds (or the upstream's
    ``Retry-After``, at most ``max_cooldown_time``); a 401/403/404/429 benches it at once.
    A group's only deployment is never benched: there is nowhere else to go, so it is
    retried after a backoff instead.  A retry waits for an upstream's ``Retry-After`` only
    when that is no longer than ``max_retry_wait`` and the call's timeout.

    ``timeout`` bounds a whole call on one deployment; ``stream_timeout`` bounds a stream's
    silences: the wait for its first chunk, and every gap between two chunks after it
    (default: ``timeout``); both can be set per deployment and per call (call > deployment
    > router).  ``cap_call_options``: a call's own ``num_retries``/``max_retries``,
    ``timeout``/``request_timeout`` and ``stream_timeout`` may lower what the configuration
    gives it, never raise it (off by default: an SDK caller is the operator; the proxy,
    whose callers are not, turns it on).  ``fallbacks``, ``context_window_fallbacks``,
    ``content_policy_fallbacks``: see :mod:`gatewise.router.fallbacks`.
    ``model_group_alias``: ``{"alias": "model_name"}``.  A ``model_name`` with a ``*``
    (``"*"``, ``"mistral/*"``) is a wildcard group serving every name it matches, its
    deployments' ``model`` written with the ``*`` too (:mod:`gatewise.router.wildcards`).

    ``store`` holds the live state (default :class:`MemoryStore`); ``clock`` (default
    ``time.monotonic``) and ``seed``/``rng`` make cooldowns, windows and choices
    reproducible in tests.  ``client`` is the :class:`AsyncClient` used for async calls.
    ``callbacks`` are told of every chat and embedding call, with the deployment that
    served it, its retries and fallbacks (:mod:`gatewise.callbacks`; the client's own
    callbacks are not: the router calls it unwatched).  With an OpenTelemetry tracer
    provider set, each call is a span and each attempt on a deployment a span under it.
    """

    def __init__(
        self,
        model_list: Iterable[Mapping[str, Any]],
        *,
        routing_strategy: str = "simple-shuffle",
        num_retries: int = 2,
        allowed_fails: int = 3,
        cooldown_time: float = 5.0,
        max_cooldown_time: float = 300.0,
        timeout: float | None = None,
        stream_timeout: float | None = None,
        fallbacks: Any = None,
        context_window_fallbacks: Any = None,
        content_policy_fallbacks: Any = None,
        model_group_alias: Mapping[str, Any] | None = None,
        cap_call_options: bool = False,
        max_fallbacks: int = 5,
        retry_backoff: float = 0.5,
        max_retry_wait: float = 60.0,
        latency_exploration: float = EXPLORATION,
        store: StateStore | None = None,
        clock: Callable[[], float] | None = None,
        seed: int | None = None,
        rng: random.Random | None = None,
        client: AsyncClient | None = None,
        callbacks: Iterable[Any] = (),
    ) -> None:
        self.deployments: tuple[Deployment, ...] = build_deployments(model_list)
        self._callbacks = styled(callbacks)  # gatewise.callbacks: told of every call
        self._models = {d.id: d.model for d in self.deployments}
        # Prompt tokens are only estimated when some deployment has a tpm limit to keep.
        self._counts_tokens = any(d.tpm is not None for d in self.deployments)
        self._groups: dict[str, tuple[Deployment, ...]] = {}
        for deployment in self.deployments:
            group = self._groups.get(deployment.model_name, ())
            self._groups[deployment.model_name] = (*group, deployment)
        # Groups called by their name; the wildcard ones serve the names they match.
        self._patterns = patterns(self._groups)
        self._named = {name for name in self._groups if not is_pattern(name)}
        self._aliases = self._parse_aliases(model_group_alias or {})
        # A group's retry budget: the most any of its entries asks (else num_retries).
        self._budgets = {name: max(given) for name, group in self._groups.items()
                         if (given := [d.num_retries for d in group
                                       if d.num_retries is not None])}
        self._fallbacks = FallbackConfig(
            parse_chains(fallbacks, "fallbacks"),
            parse_chains(context_window_fallbacks, "context_window_fallbacks"),
            parse_chains(content_policy_fallbacks, "content_policy_fallbacks"))
        self._check_known(self._fallbacks.groups(), "fallbacks")
        self._check_targets(self._fallbacks)
        self._fallbacks = self._fallbacks.resolved(self._aliases)
        self.routing_strategy = routing_strategy
        strategy = strategy_named(routing_strategy)
        if strategy is latency_based:
            if not 0.0 <= latency_exploration <= 1.0:
                raise ValueError("latency_exploration must be between 0 and 1")
            strategy = cast(Strategy, partial(latency_based, exploration=latency_exploration))
        self.num_retries = count(num_retries, "num_retries")
        self.allowed_fails = count(allowed_fails, "allowed_fails")
        self.cooldown_time = float(cooldown_time)
        if self.cooldown_time < 0:
            raise ValueError("cooldown_time must be >= 0 seconds")
        self.max_cooldown_time = float(max_cooldown_time)
        if not 0 < self.max_cooldown_time < math.inf:
            raise ValueError("max_cooldown_time must be a positive, finite number of seconds")
        self.timeout = seconds(timeout, "timeout")
        self.stream_timeout = seconds(stream_timeout, "stream_timeout")
        self.max_fallbacks = count(max_fallbacks, "max_fallbacks")
        self.store: StateStore = store if store is not None else MemoryStore()
        self._engine = Engine(
            self._groups, self.store, strategy, clock or time.monotonic,
            rng or random.Random(seed), self.allowed_fails, self.cooldown_time,
            max_cooldown=self.max_cooldown_time, backoff=float(retry_backoff),
            max_wait=float(max_retry_wait),
            timeout=self.timeout, stream_timeout=self.stream_timeout,
            max_fallbacks=self.max_fallbacks, capped=bool(cap_call_options))
        self.cap_call_options = bool(cap_call_options)
        self._client = client
        self._owns_client = client is None
        self._thread = LoopThread("gatewise-router")
        self._thread_client: AsyncClient | None = None
        self._client_lock = threading.Lock()
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # -- configuration --------------------------------------------------------------------

    def _parse_aliases(self, aliases: Mapping[str, Any]) -> dict[str, str]:
        parsed: dict[str, str] = {}
        for alias, target in aliases.items():
            name = target.get("model") if isinstance(target, Mapping) else target
            if not isinstance(name, str) or name not in self._named:
                why = ("a wildcard group serves the names it matches, not an alias"
                       if isinstance(name, str) and name in self._groups else "no such model_name")
                raise ValueError(f"model_group_alias {alias!r} -> {target!r}: {why}")
            parsed[str(alias)] = name
        return parsed

    def _check_known(self, names: Iterable[str], setting: str, *, per_call: bool = False
                     ) -> None:
        unknown = sorted(n for n in names if n not in self._groups and n not in self._aliases)
        if unknown:
            message = f"{setting} name unknown model_name(s): {', '.join(unknown)}"
            raise BadRequestError(message, param=setting) if per_call else ValueError(message)

    def _check_targets(self, config: FallbackConfig, *, per_call: bool = False) -> None:
        wild = sorted(n for n in config.targets() if n in self._groups and n not in self._named)
        if wild:
            message = (f"fallbacks cannot go to a wildcard group ({', '.join(wild)}): it serves "
                       "the names it matches, and a fallback names none")
            raise BadRequestError(message, param="fallbacks") if per_call else ValueError(message)

    @property
    def model_names(self) -> list[str]:
        """The names callers may use: every model group, then the aliases (a wildcard
        group's are the names it matches)."""
        return [*self._named, *self._aliases]

    def get_deployments(self, model_name: str) -> tuple[Deployment, ...]:
        return self._groups.get(self._aliases.get(model_name, model_name), ())

    def _resolve(self, model: str) -> tuple[str, str | None]:
        """The group serving ``model``, and, for a wildcard group, what its ``*`` stands for
        (:mod:`gatewise.router.wildcards`); a group named ``model`` always wins."""
        name = self._aliases.get(model, model)
        if name in self._named:
            return name, None
        found = match(self._patterns, model) if isinstance(model, str) else None
        if found is None:
            raise NotFoundError(f"The model {model!r} does not exist on this router",
                                model=model, code="model_not_found", param="model")
        return found

    def __repr__(self) -> str:
        groups = ", ".join(f"{name}: {len(ds)}" for name, ds in self._groups.items())
        return f"Router({{{groups}}}, routing_strategy={self.routing_strategy!r})"

    # -- the async surface --------------------------------------------------------------

    @property
    def client(self) -> AsyncClient:
        if self._client is None:
            from gatewise._async_client import AsyncClient

            self._client = AsyncClient()
        return self._client

    async def acompletion(self, model: str, messages: list[JSON], *,
                          admission: Ticket | None = None, **params: Any
                          ) -> ModelResponse | AsyncStream[ModelResponseChunk]:
        """A chat completion from one deployment of ``model``; ``stream=True`` gives an
        ``AsyncStream`` that has already received its first chunk.

        ``admission`` (every async method takes it): a ticket of limits and budget
        (``gatewise.state.ticket``) admitted with the deployment, in the same atomic store
        operation, and settled when the call ends; its refusal is raised as is."""
        send = self.client._completion
        if self._callbacks or tracing():
            response = await awatched(self, "chat", send, model, messages, params, admission)
        else:
            response = (await self._route(send, model, messages, params, admission)).response
        return cast("ModelResponse | AsyncStream[ModelResponseChunk]", response)

    async def aembedding(self, model: str, input: str | list[str], *,
                         admission: Ticket | None = None, **params: Any) -> EmbeddingResponse:
        send = self.client._embedding
        if self._callbacks or tracing():
            response = await awatched(self, "embeddings", send, model, input, params,
                                      admission)
        else:
            response = (await self._route(send, model, input, params, admission)).response
        return cast("EmbeddingResponse", response)

    # The three below return the routing coroutine itself (awaited by the caller): a frame
    # less for each of the call's resumptions to pass through (the proxy calls
    # acompletion_sse and aembedding_json on every request).

    def acompletion_dict(self, model: str, messages: list[JSON], *,
                         admission: Ticket | None = None, **params: Any
                         ) -> Coroutine[Any, Any, RouteResult[JSON | AsyncStream[JSON]]]:
        """OpenAI-shaped dicts (a stream of chunk dicts), plus who served and what it took."""
        return self._route(self.client.completion_dict, model, messages, params, admission)

    def acompletion_sse(self, model: str, messages: list[JSON], *,
                        admission: Ticket | None = None, **params: Any
                        ) -> Coroutine[Any, Any, RouteResult[JSON | AsyncStream[bytes]]]:
        """For relaying: a stream comes as OpenAI SSE bytes (``AsyncClient.completion_sse``),
        first block already in."""
        return self._route(self.client.completion_sse, model, messages, params, admission)

    def aembedding_dict(self, model: str, input: str | list[str], *,
                        admission: Ticket | None = None, **params: Any
                        ) -> Coroutine[Any, Any, RouteResult[JSON]]:
        return self._route(self.client.embedding_dict, model, input, params, admission)

    def aembedding_json(self, model: str, input: str | list[str], **params: Any
                        ) -> Coroutine[Any, Any, RouteResult[JSON]]:
        """For relaying: each vector stays the upstream's bytes
        (``AsyncClient.embedding_json``)."""
        return self._route(self.client.embedding_json, model, input, params)

    def observe(self, observer: AttemptObserver | None) -> None:
        """Tell ``observer`` of every attempt on a deployment and every cooldown from now on
        (:mod:`gatewise.router.observe`: tracing and metrics); None stops it."""
        self._engine.caller.observe(observer)

    async def ahealth(self) -> list[DeploymentHealth]:
        """Each deployment's state: healthy, cooling down (and for how long), at its limit."""
        return await self._engine.health(self.deployments)

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- the sync surface: the same coroutines, run on a private event-loop thread ----------

    @property
    def _sync_client(self) -> AsyncClient:
        with self._client_lock:
            if self._thread_client is None:
                from gatewise._async_client import AsyncClient

                client = self._thread_client = AsyncClient()
                # Closed by close(), else when the router is collected or at exit.
                self._finalizer = weakref.finalize(self, _shutdown, self._thread, client)
            return self._thread_client

    def completion(self, model: str, messages: list[JSON], **params: Any
                   ) -> ModelResponse | Stream[ModelResponseChunk]:
        """The blocking twin of :meth:`acompletion`; ``stream=True`` gives a ``Stream``."""
        send = self._sync_client._completion
        if self._callbacks or tracing():
            return cast("ModelResponse | Stream[ModelResponseChunk]",
                        watched(self, "chat", send, model, messages, params))
        result = self._thread.run(self._route(send, model, messages, params))
        if params.get("stream"):
            return sync_stream(self._thread, result.response)
        return cast("ModelResponse", result.response)

    def embedding(self, model: str, input: str | list[str], **params: Any
                  ) -> EmbeddingResponse:
        send = self._sync_client._embedding
        if self._callbacks or tracing():
            return cast("EmbeddingResponse", watched(self, "embeddings", send, model, input,
                                                     params))
        result = self._thread.run(self._route(send, model, input, params))
        return cast("EmbeddingResponse", result.response)

    def health(self) -> list[DeploymentHealth]:
        return self._thread.run(self.ahealth())

    def close(self) -> None:
        """Close the sync path's client and stop its thread (the async client is closed by
        :meth:`aclose`)."""
        with self._client_lock:
            finalizer, self._finalizer = self._finalizer, None
            self._thread_client = None
        if finalizer is not None:
            finalizer()
        self._thread.stop()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- routing ----------------------------------------------------------------------------

    def _route(self, send: Send, model: str, payload: Any, params: Mapping[str, Any],
               admission: Ticket | None = None) -> Coroutine[Any, Any, RouteResult[Any]]:
        """The engine's coroutine for the call (a plain function: every resumption of a
        call passes one frame less; what is wrong with the call is raised at once)."""
        first, wanted = self._resolve(model)
        if not PINNED.isdisjoint(params):
            raise pinned_error(params)
        budget = self._budgets.get(first, self.num_retries)
        if CALL_OPTIONS.isdisjoint(params):  # the common case: nothing for the router
            spec = CallSpec(payload, params, bool(params.get("stream")), None, None,
                            estimate_tokens(payload) if self._counts_tokens else 0, wanted,
                            admission)
            return self._engine.route(send, spec, first, self._fallbacks, budget)
        spec, budget = with_options(payload, params, wanted, budget=budget,
                                    capped=self.cap_call_options,
                                    counts_tokens=self._counts_tokens, ticket=admission)
        try:
            config = self._fallbacks.with_overrides(
                first, fallbacks=params.get("fallbacks"),
                context_window=params.get("context_window_fallbacks"),
                content_policy=params.get("content_policy_fallbacks"))
        except ValueError as exc:
            raise BadRequestError(str(exc), param="fallbacks") from None
        if config is not self._fallbacks:
            self._check_known(config.groups(), "fallbacks", per_call=True)
            self._check_targets(config, per_call=True)
            config = config.resolved(self._aliases)
        return self._engine.route(send, spec, first, config, budget)

    # -- OCR and transcription: routed like chat (groups, retries, fallbacks, cooldowns) -----

    async def aocr(self, model: str, document: Any, *, admission: Ticket | None = None,
                   **params: Any) -> OCRResponse:
        result = await self._route(self.client.ocr, model, document, params, admission)
        return cast("OCRResponse", result.response)

    def aocr_dict(self, model: str, document: Any, *, admission: Ticket | None = None,
                  **params: Any) -> Coroutine[Any, Any, RouteResult[JSON]]:
        return self._route(self.client.ocr_dict, model, document, params, admission)

    async def atranscription(self, model: str, file: Any = None, *,
                             admission: Ticket | None = None, **params: Any
                             ) -> TranscriptionResponse | AsyncStream[TranscriptionStreamEvent]:
        """A transcription from one deployment of ``model``; a retry or a fallback sends
        the file again (read again from its path, bytes or file object)."""
        result = await self._route(self.client.transcription, model, _part(file), params,
                                   admission)
        return cast("TranscriptionResponse | AsyncStream[TranscriptionStreamEvent]",
                    result.response)

    def atranscription_dict(self, model: str, file: Any = None, *,
                            admission: Ticket | None = None, **params: Any
                            ) -> Coroutine[Any, Any, RouteResult[JSON | AsyncStream[JSON]]]:
        return self._route(self.client.transcription_dict, model, _part(file), params,
                           admission)

    def atranscription_sse(self, model: str, file: Any = None, *,
                           admission: Ticket | None = None, **params: Any
                           ) -> Coroutine[Any, Any, RouteResult[JSON | AsyncStream[bytes]]]:
        """For relaying: a stream comes as OpenAI SSE bytes, first block already in."""
        return self._route(self.client.transcription_sse, model, _part(file), params,
                           admission)

    def ocr(self, model: str, document: Any, **params: Any) -> OCRResponse:
        """The blocking twin of :meth:`aocr`."""
        send = self._sync_client.ocr
        result = self._thread.run(self._route(send, model, document, params))
        return cast("OCRResponse", result.response)

    def transcription(self, model: str, file: Any = None, **params: Any
                      ) -> TranscriptionResponse | Stream[TranscriptionStreamEvent]:
        """The blocking twin of :meth:`atranscription`; ``stream=True`` gives a ``Stream``."""
        send = self._sync_client.transcription
        result = self._thread.run(self._route(send, model, _part(file), params))
        if params.get("stream"):
            return sync_stream(self._thread, result.response)
        return cast("TranscriptionResponse", result.response)


def _part(file: Any) -> Any:
    """A transcription's file as one form part for every attempt (a file object is read
    from where it stands now, each time; one that cannot rewind, read once)."""
    from gatewise._multipart import file_part

    return None if file is None else file_part(file)


def _shutdown(thread: LoopThread, client: AsyncClient) -> None:
    thread.stop(client.aclose())
