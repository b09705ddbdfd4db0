"""``Client``: a call's trip from arguments to typed answer, blocking.

API -> prepare (resolve provider, adapter builds the body) -> ``_http`` sends -> adapter
parses -> types.  ``AsyncClient`` (``_async_client``) is its twin, name for name (a test
keeps them in step); each loads only its own HTTP stack.  The ``*_dict`` methods return
OpenAI-shaped dicts instead of models, for the proxy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from gatewise._http import EventDecoder, Request, Timeout, _sync
from gatewise._http._sse import Decoder
from gatewise._mock import mock_chat_chunks, mock_chat_response, mock_embedding_response
from gatewise._prepare import Call, Targets, prepare_chat, prepare_embedding
from gatewise._relay import SseRelay, encode_event
from gatewise._results import (
    JSON,
    include_usage,
    settings,
    typed_chunk,
    typed_embedding,
    typed_response,
)
from gatewise._streaming import Stream, same, translate
from gatewise.catalogue import Catalogue, default_catalogue
from gatewise.types import EmbeddingResponse, ModelResponse, ModelResponseChunk

T = TypeVar("T")


class Client:
    """A blocking client.  Every argument is a default each call may override."""

    def __init__(self, *, api_key: str | None = None, api_base: str | None = None,
                 timeout: float | Timeout | None = None, num_retries: int = 2,
                 drop_params: bool = False, extra_headers: Mapping[str, str] | None = None,
                 catalogue: Catalogue | None = None,
                 transport: _sync.SyncTransport | None = None, ssl_verify: bool | str = True
                 ) -> None:
        self._settings = settings(api_key, api_base, timeout, num_retries, drop_params,
                                   extra_headers, ssl_verify)
        self._catalogue = catalogue
        self._targets = Targets()
        self._transport = transport

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = default_catalogue()
        return self._catalogue

    @property
    def transport(self) -> _sync.SyncTransport:
        if self._transport is None:
            self._transport = _sync.HttpxTransport()
        return self._transport

    def completion(self, model: str, messages: list[JSON], **params: Any
                   ) -> ModelResponse | Stream[ModelResponseChunk]:
        """A chat completion; with ``stream=True`` a :class:`Stream` of chunks."""
        call = prepare_chat(self._settings, self.catalogue, model, messages, params,
                            self._targets)
        if call.stream:
            return self._stream(call, typed_chunk)
        return typed_response(call, self._answer(call))

    def completion_dict(self, model: str, messages: list[JSON], **params: Any
                        ) -> JSON | Stream[JSON]:
        """Like :meth:`completion`, with plain OpenAI-shaped dicts."""
        call = prepare_chat(self._settings, self.catalogue, model, messages, params,
                            self._targets)
        return self._stream(call, same) if call.stream else self._answer(call)

    def completion_sse(self, model: str, messages: list[JSON], **params: Any
                       ) -> JSON | Stream[bytes]:
        """For relaying: like :meth:`completion_dict`, but a stream's items are OpenAI SSE
        bytes (each one or more ``data: {...}`` events, no ``[DONE]``), mostly passed
        through from the upstream's (``gatewise._relay``); ``.usage`` once it is known."""
        call = prepare_chat(self._settings, self.catalogue, model, messages, params,
                            self._targets)
        return self._relay(call) if call.stream else self._answer(call)

    def embedding(self, model: str, input: str | list[str], **params: Any) -> EmbeddingResponse:
        """Embeddings; inputs over the provider's per-request limits are split and merged."""
        call, requests = prepare_embedding(self._settings, self.catalogue, model, input,
                                           params, self._targets)
        return typed_embedding(call, self._embed(call, requests, input))

    def embedding_dict(self, model: str, input: str | list[str], **params: Any) -> JSON:
        """Like :meth:`embedding`, as a plain OpenAI-shaped dict."""
        call, requests = prepare_embedding(self._settings, self.catalogue, model, input,
                                           params, self._targets)
        return self._embed(call, requests, input)

    def _embed(self, call: Call, requests: list[Request], input: str | list[str]) -> JSON:
        if call.mock is not None:
            count = 1 if isinstance(input, str) else len(input)
            return mock_embedding_response(call.mock, call.model_id, count)
        parts = [call.adapter.parse_embedding_response(self._send(call, r), model=call.model_id)
                 for r in requests]
        return call.adapter.merge_embedding_responses(parts)

    def _send(self, call: Call, request: Request) -> JSON:
        return _sync.send(self.transport, request, timeout=call.timeout, policy=call.policy,
                          error_for=call.error_for, provider=call.provider, model=call.model_id)

    def _answer(self, call: Call) -> JSON:
        if call.request is None:
            return mock_chat_response(call.mock, call.model_id)
        body = self._send(call, call.request)
        return call.adapter.parse_chat_response(body, model=call.model_id, model_info=call.info)

    def _stream(self, call: Call, wrap: Any) -> Stream[Any]:
        if call.request is None:
            chunks = mock_chat_chunks(call.mock, call.model_id, include_usage=include_usage(call))
            return Stream(iter(chunks), wrap)
        upstream, events = self._events(call, call.request, EventDecoder())
        return Stream(translate(events, call.translator()), wrap, on_close=upstream.close)

    def _relay(self, call: Call) -> Stream[bytes]:
        if call.request is None:
            chunks = mock_chat_chunks(call.mock, call.model_id, include_usage=include_usage(call))
            return Stream(iter([encode_event(c) for c in chunks]), same)
        relay = SseRelay(call.translator())
        upstream, blocks = self._events(call, call.request, relay)
        return Stream(blocks, same, on_close=upstream.close, usage=lambda: relay.usage)

    def _events(self, call: Call, request: Request, decoder: Decoder[T]
                ) -> tuple[_sync.SyncRawStream, Iterator[T]]:
        """Open the stream (retrying as the call's policy says) and iterate ``decoder``'s
        items over its bytes."""
        upstream = _sync.open_stream(self.transport, request, timeout=call.timeout,
                                     policy=call.policy, error_for=call.error_for,
                                     provider=call.provider, model=call.model_id)
        return upstream, _sync.iter_events(upstream, provider=call.provider,
                                           model=call.model_id, secret=call.secret,
                                           decoder=decoder)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self._settings!r})"
