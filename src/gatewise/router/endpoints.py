"""The router's calls beyond chat and embeddings: code completion (FIM), moderation, and
the provider's own API.  Each is a thin method over the router's generic ``_route``, so
they are served exactly like chat: model groups and aliases, the routing strategy,
rpm/tpm limits, retries, cooldowns and fallbacks.  Mixed into :class:`Router`.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from gatewise.router._attempt import Send
from gatewise.router._sync import sync_stream
from gatewise.router.result import RouteResult

if TYPE_CHECKING:
    from gatewise._async_client import AsyncClient
    from gatewise._streaming import AsyncStream, Stream
    from gatewise.router._sync import LoopThread
    from gatewise.state.ticket import Ticket
    from gatewise.types import ModerationResponse, TextCompletionChunk, TextCompletionResponse

JSON = dict[str, Any]


class EndpointRoutes:
    """FIM, moderation and native calls of a :class:`Router` (its async and sync twins)."""

    if TYPE_CHECKING:  # what Router provides
        _thread: LoopThread

        @property
        def client(self) -> AsyncClient: ...

        @property
        def _sync_client(self) -> AsyncClient: ...

        def _route(self, send: Send, model: str, payload: Any, params: Mapping[str, Any],
                   admission: Ticket | None = None) -> Coroutine[Any, Any, RouteResult[Any]]:
            ...

    async def atext_completion(self, model: str, prompt: str, *,
                               admission: Ticket | None = None, **params: Any
                               ) -> TextCompletionResponse | AsyncStream[TextCompletionChunk]:
        """A code completion from one deployment of ``model``; ``stream=True`` gives an
        ``AsyncStream`` that has already received its first chunk."""
        result = await self._route(self.client.text_completion, model, prompt, params,
                                   admission)
        return cast("TextCompletionResponse | AsyncStream[TextCompletionChunk]",
                    result.response)

    def atext_completion_dict(self, model: str, prompt: str, *,
                              admission: Ticket | None = None, **params: Any
                              ) -> Coroutine[Any, Any, RouteResult[JSON | AsyncStream[JSON]]]:
        return self._route(self.client.text_completion_dict, model, prompt, params, admission)

    def atext_completion_sse(self, model: str, prompt: str, *,
                             admission: Ticket | None = None, **params: Any
                             ) -> Coroutine[Any, Any, RouteResult[JSON | AsyncStream[bytes]]]:
        """For relaying: a stream comes as OpenAI SSE bytes, first block already in."""
        return self._route(self.client.text_completion_sse, model, prompt, params, admission)

    async def amoderation(self, model: str, input: Any, *, admission: Ticket | None = None,
                          **params: Any) -> ModerationResponse:
        result = await self._route(self.client.moderation, model, input, params, admission)
        return cast("ModerationResponse", result.response)

    def amoderation_dict(self, model: str, input: Any, *, admission: Ticket | None = None,
                         **params: Any) -> Coroutine[Any, Any, RouteResult[JSON]]:
        return self._route(self.client.moderation_dict, model, input, params, admission)

    def anative(self, model: str, body: JSON, *, endpoint: str,
                admission: Ticket | None = None, **params: Any
                ) -> Coroutine[Any, Any, RouteResult[JSON | AsyncStream[bytes]]]:
        """The provider's own ``endpoint`` with ``body`` in its shape (``AsyncClient.native``);
        a body asking to stream is routed as a stream."""
        if isinstance(body, dict) and body.get("stream") is True:
            params = {**params, "stream": True}
        return self._route(partial(self.client.native, endpoint=endpoint), model, body, params,
                           admission)

    def text_completion(self, model: str, prompt: str, **params: Any
                        ) -> TextCompletionResponse | Stream[TextCompletionChunk]:
        """The blocking twin of :meth:`atext_completion`; ``stream=True`` gives a
        ``Stream``."""
        send = self._sync_client.text_completion
        result = self._thread.run(self._route(send, model, prompt, params))
        if params.get("stream"):
            return sync_stream(self._thread, result.response)
        return cast("TextCompletionResponse", result.response)

    def moderation(self, model: str, input: Any, **params: Any) -> ModerationResponse:
        send = self._sync_client.moderation
        result = self._thread.run(self._route(send, model, input, params))
        return cast("ModerationResponse", result.response)
