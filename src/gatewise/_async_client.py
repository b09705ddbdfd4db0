"""``AsyncClient``: a call's trip from arguments to typed answer, on asyncio.

API -> prepare (resolve provider, adapter builds the body) -> ``_http`` sends -> adapter
parses -> types.  ``Client`` (``_client``) is its twin, name for name (a test
keeps them in step); each loads only its own HTTP stack.  The ``*_dict`` methods return
OpenAI-shaped dicts instead of models, for the proxy.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from typing import Any, TypeVar, cast

from gatewise._callback_styles import styled
from gatewise._endpoints import (
    EndpointCall,
    prepare_fim,
    prepare_moderation,
    prepare_native,
    typed_moderation,
    typed_text_chunk,
    typed_text_completion,
)
from gatewise._http import EventDecoder, Request, Timeout, _async
from gatewise._http._sse import Decoder
from gatewise._mock import mock_chat_chunks, mock_chat_response, mock_embedding_response
from gatewise._observe import Watched, tracing
from gatewise._ocr import mock_ocr_response, ocr_answer, prepare_ocr, typed_ocr
from gatewise._prepare import Call, Targets, prepare_chat, prepare_embedding
from gatewise._relay import SseRelay, encode_event, encode_events
from gatewise._results import (
    JSON,
    include_usage,
    relay_decoder,
    settings,
    typed_chunk,
    typed_embedding,
    typed_response,
)
from gatewise._streaming import AsyncStream, aiter_list, atranslate, same
from gatewise._transcription import (
    TranscriptionDecoder,
    as_list,
    mock_transcription,
    mock_transcription_events,
    prepare_transcription,
    sse_blocks,
    transcription_answer,
    typed_transcription,
    typed_transcription_event,
)
from gatewise.catalogue import Catalogue, default_catalogue
from gatewise.types import (
    EmbeddingResponse,
    ModelResponse,
    ModelResponseChunk,
    ModerationResponse,
    OCRResponse,
    TextCompletionChunk,
    TextCompletionResponse,
    TranscriptionResponse,
    TranscriptionStreamEvent,
)

T = TypeVar("T")


class AsyncClient:
    """An asyncio client.  Every argument is a default each call may override.

    ``redact``: values no error may show (besides each call's key and the values of its
    extra headers, always kept out): matched in any case, masked as ``***``.
    ``callbacks``: told of every chat and embedding call (:mod:`gatewise.callbacks`).
    """

    def __init__(self, *, api_key: str | None = None, api_base: str | None = None,
                 timeout: float | Timeout | None = None, num_retries: int = 2,
                 drop_params: bool = False, extra_headers: Mapping[str, str] | None = None,
                 redact: Iterable[str] = (), catalogue: Catalogue | None = None,
                 transport: _async.AsyncTransport | None = None, ssl_verify: bool | str = True,
                 callbacks: Iterable[Any] = ()) -> None:
        self._settings = settings(api_key, api_base, timeout, num_retries, drop_params,
                                   extra_headers, redact, ssl_verify)
        self._catalogue = catalogue
        self._targets = Targets()
        self._transport = transport
        self._callbacks = styled(callbacks)  # gatewise.callbacks: told of every call

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = default_catalogue()
        return self._catalogue

    @property
    def transport(self) -> _async.AsyncTransport:
        if self._transport is None:
            from gatewise._http._aiohttp import AiohttpTransport  # (aiohttp loads here)

            self._transport = AiohttpTransport()
        return self._transport

    async def completion(self, model: str, messages: list[JSON], **params: Any
                         ) -> ModelResponse | AsyncStream[ModelResponseChunk]:
        """A chat completion; with ``stream=True`` an :class:`AsyncStream` of chunks."""
        if self._callbacks or tracing():
            watched = Watched(self._callbacks, "chat", model, params, self.catalogue,
                              payload=messages)
            return cast("ModelResponse | AsyncStream[ModelResponseChunk]", await watched.acall(
                lambda: self._completion(model, messages, **params)))
        return await self._completion(model, messages, **params)

    async def _completion(self, model: str, messages: list[JSON], **params: Any
                          ) -> ModelResponse | AsyncStream[ModelResponseChunk]:
        call = prepare_chat(self._settings, self.catalogue, model, messages, params,
                            self._targets)
        if call.stream:
            return await self._stream(call, typed_chunk)
        return typed_response(call, await self._answer(call))

    async def completion_dict(self, model: str, messages: list[JSON], **params: Any
                              ) -> JSON | AsyncStream[JSON]:
        """Like :meth:`completion`, with plain OpenAI-shaped dicts."""
        call = prepare_chat(self._settings, self.catalogue, model, messages, params,
                            self._targets)
        return await self._stream(call, same) if call.stream else await self._answer(call)

    async def completion_sse(self, model: str, messages: list[JSON], **params: Any
                             ) -> JSON | AsyncStream[bytes]:
        """For relaying: like :meth:`completion_dict`, but a stream's items are OpenAI SSE
        bytes (each one or more ``data: {...}`` events, no ``[DONE]``), mostly passed
        through from the upstream's (``gatewise._relay``); ``.usage`` once it is known."""
        call = prepare_chat(self._settings, self.catalogue, model, messages, params,
                            self._targets)
        if call.stream:
            return await self._relay(call)
        if call.request is None:
            return mock_chat_response(call.mock, call.model_id)
        # _answer's work, written out: the proxy's hot path, a coroutine less per call.
        body = await self._send(call, call.request)
        return call.adapter.parse_chat_response(body, model=call.model_id, model_info=call.info)

    async def embedding(self, model: str, input: str | list[str], **params: Any
                        ) -> EmbeddingResponse:
        """Embeddings; inputs over the provider's per-request limits are split into requests
        sent concurrently and merged in order."""
        if self._callbacks or tracing():
            watched = Watched(self._callbacks, "embeddings", model, params, self.catalogue,
                              payload=input)
            return cast("EmbeddingResponse", await watched.acall(
                lambda: self._embedding(model, input, **params)))
        return await self._embedding(model, input, **params)

    async def _embedding(self, model: str, input: str | list[str], **params: Any
                         ) -> EmbeddingResponse:
        call, requests = prepare_embedding(self._settings, self.catalogue, model, input,
                                           params, self._targets)
        return typed_embedding(call, await self._embed(call, requests, input))

    async def embedding_dict(self, model: str, input: str | list[str], **params: Any) -> JSON:
        """Like :meth:`embedding`, as a plain OpenAI-shaped dict."""
        call, requests = prepare_embedding(self._settings, self.catalogue, model, input,
                                           params, self._targets)
        return await self._embed(call, requests, input)

    async def embedding_json(self, model: str, input: str | list[str], **params: Any
                             ) -> JSON:
        """For relaying: like :meth:`embedding_dict`, but each vector is the upstream's own
        bytes (a ``RawJSON``: ``gatewise._rawjson`` writes the answer out), never decoded
        into floats."""
        call, requests = prepare_embedding(self._settings, self.catalogue, model, input,
                                           params, self._targets)
        if call.mock is not None:
            return await self._embed(call, requests, input)
        decode = relay_decoder(call)
        parts = await asyncio.gather(*(
            _async.send(self.transport, r, timeout=call.timeout, policy=call.policy,
                        error_for=call.error_for, provider=call.provider,
                        model=call.model_id, decode=decode) for r in requests))
        return call.adapter.merge_embedding_responses(parts)

    async def _embed(self, call: Call, requests: list[Request], input: str | list[str]
                     ) -> JSON:
        if call.mock is not None:
            count = 1 if isinstance(input, str) else len(input)
            return mock_embedding_response(call.mock, call.model_id, count)
        bodies = await asyncio.gather(*(self._send(call, r) for r in requests))
        parts = [call.adapter.parse_embedding_response(b, model=call.model_id) for b in bodies]
        return call.adapter.merge_embedding_responses(parts)

    def _send(self, call: Call, request: Request) -> Coroutine[Any, Any, JSON]:
        # Returns the coroutine itself (no frame of its own for every resumption to pass).
        return _async.send(self.transport, request, timeout=call.timeout, policy=call.policy,
                           error_for=call.error_for, provider=call.provider,
                           model=call.model_id, secrets=call.secrets)

    async def _answer(self, call: Call) -> JSON:
        if call.request is None:
            return mock_chat_response(call.mock, call.model_id)
        body = await self._send(call, call.request)
        return call.adapter.parse_chat_response(body, model=call.model_id, model_info=call.info)

    async def _stream(self, call: Call, wrap: Any) -> AsyncStream[Any]:
        if call.request is None:
            chunks = mock_chat_chunks(call.mock, call.model_id, include_usage=include_usage(call))
            return AsyncStream(aiter_list(chunks), wrap)
        upstream, events = await self._events(call, call.request, EventDecoder(call.secrets))
        return AsyncStream(atranslate(events, call.translator()), wrap, on_close=upstream.close)

    async def _relay(self, call: Call) -> AsyncStream[bytes]:
        if call.request is None:
            chunks = mock_chat_chunks(call.mock, call.model_id, include_usage=include_usage(call))
            return AsyncStream(aiter_list([encode_event(c) for c in chunks]), same)
        relay = SseRelay(call.translator(), call.secrets)
        upstream, blocks = await self._events(call, call.request, relay)
        return AsyncStream(blocks, same, on_close=upstream.close, usage=lambda: relay.usage)

    async def _events(self, call: Call, request: Request, decoder: Decoder[T]
                      ) -> tuple[_async.AsyncRawStream, AsyncIterator[T]]:
        """Open the stream (retrying as the call's policy says) and iterate ``decoder``'s
        items over its bytes."""
        upstream = await _async.open_stream(self.transport, request, timeout=call.timeout,
                                            policy=call.policy, error_for=call.error_for,
                                            provider=call.provider, model=call.model_id,
                                            secrets=call.secrets)
        return upstream, _async.iter_events(upstream, provider=call.provider,
                                            model=call.model_id, secrets=call.secrets,
                                            decoder=decoder)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient({self._settings!r})"

    # -- OCR and transcription (``gatewise._ocr``, ``gatewise._transcription``) ------------

    async def ocr(self, model: str, document: Any, **params: Any) -> OCRResponse:
        """OCR of a document, in Mistral's shape: ``response.pages[i].markdown``."""
        call = prepare_ocr(self._settings, self.catalogue, model, document, params,
                           self._targets)
        return typed_ocr(call, await self._ocr(call))

    async def ocr_dict(self, model: str, document: Any, **params: Any) -> JSON:
        """Like :meth:`ocr`, as a plain dict."""
        return await self._ocr(prepare_ocr(self._settings, self.catalogue, model, document,
                                           params, self._targets))

    async def _ocr(self, call: Call) -> JSON:
        if call.request is None:
            return mock_ocr_response(call.mock, call.model_id)
        return ocr_answer(call, await self._send(call, call.request))

    async def transcription(self, model: str, file: Any = None, **params: Any
                            ) -> TranscriptionResponse | AsyncStream[TranscriptionStreamEvent]:
        """Transcribe audio (``file``: a path, bytes or a binary file object, streamed to
        the upstream a chunk at a time); with ``stream=True`` an :class:`AsyncStream` of
        OpenAI's transcription events."""
        call = prepare_transcription(self._settings, self.catalogue, model, file, params,
                                     self._targets, blocking=False)
        if call.stream:
            return await self._transcription_stream(call, typed_transcription_event, sse=False)
        return typed_transcription(call, await self._transcribe(call))

    async def transcription_dict(self, model: str, file: Any = None, **params: Any
                                 ) -> JSON | AsyncStream[JSON]:
        """Like :meth:`transcription`, with plain OpenAI-shaped dicts."""
        call = prepare_transcription(self._settings, self.catalogue, model, file, params,
                                     self._targets, blocking=False)
        if call.stream:
            return await self._transcription_stream(call, same, sse=False)
        return await self._transcribe(call)

    async def transcription_sse(self, model: str, file: Any = None, **params: Any
                                ) -> JSON | AsyncStream[bytes]:
        """For relaying: like :meth:`transcription_dict`, but a stream's items are OpenAI
        SSE bytes (no ``[DONE]``); ``.usage`` once it is known."""
        call = prepare_transcription(self._settings, self.catalogue, model, file, params,
                                     self._targets, blocking=False)
        if call.stream:
            return await self._transcription_stream(call, same, sse=True)
        return await self._transcribe(call)

    async def _transcribe(self, call: Call) -> JSON:
        if call.request is None:
            return mock_transcription(call)
        return transcription_answer(call, await self._send(call, call.request))

    async def _transcription_stream(self, call: Call, wrap: Any, *, sse: bool
                                    ) -> AsyncStream[Any]:
        encode: Any = sse_blocks if sse else as_list
        if call.request is None:
            return AsyncStream(aiter_list(encode(mock_transcription_events(call))), wrap)
        decoder = TranscriptionDecoder(call.adapter.transcription_translator(call.model_id),
                                       encode)
        upstream, items = await self._events(call, call.request, decoder)
        return AsyncStream(items, wrap, on_close=upstream.close, usage=lambda: decoder.usage)
    # -- code completion (FIM), moderation, the provider's own API (``_endpoints``) ----------

    async def text_completion(self, model: str, prompt: str, **params: Any
                              ) -> TextCompletionResponse | AsyncStream[TextCompletionChunk]:
        """Code completion (fill in the middle of ``prompt`` and ``suffix=``), in OpenAI's
        legacy completions shape; with ``stream=True`` an :class:`AsyncStream` of chunks."""
        call = prepare_fim(self._settings, self.catalogue, model, prompt, params,
                           self._targets)
        if call.stream:
            return await self._endpoint_stream(call, typed_text_chunk)
        return typed_text_completion(call, await self._endpoint_answer(call))

    async def text_completion_dict(self, model: str, prompt: str, **params: Any
                                   ) -> JSON | AsyncStream[JSON]:
        """Like :meth:`text_completion`, with plain OpenAI-shaped dicts."""
        call = prepare_fim(self._settings, self.catalogue, model, prompt, params,
                           self._targets)
        if call.stream:
            return await self._endpoint_stream(call, same)
        return await self._endpoint_answer(call)

    async def text_completion_sse(self, model: str, prompt: str, **params: Any
                                  ) -> JSON | AsyncStream[bytes]:
        """For relaying, as :meth:`completion_sse`: a stream's items are OpenAI SSE bytes."""
        call = prepare_fim(self._settings, self.catalogue, model, prompt, params,
                           self._targets)
        if call.stream:
            return await self._endpoint_relay(call)
        return await self._endpoint_answer(call)

    async def moderation(self, model: str, input: Any, **params: Any) -> ModerationResponse:
        """Moderate text (a string or strings) or conversations (a list of messages, or a
        list of such lists): one result per text or conversation."""
        call = prepare_moderation(self._settings, self.catalogue, model, input, params,
                                  self._targets)
        return typed_moderation(call, await self._endpoint_answer(call))

    async def moderation_dict(self, model: str, input: Any, **params: Any) -> JSON:
        """Like :meth:`moderation`, as a plain OpenAI-shaped dict."""
        return await self._endpoint_answer(prepare_moderation(
            self._settings, self.catalogue, model, input, params, self._targets))

    async def native(self, model: str, body: JSON, *, endpoint: str, **params: Any
                     ) -> JSON | AsyncStream[bytes]:
        """A call to the provider's own ``endpoint`` (e.g. ``"/chat/classifications"``)
        with ``body`` in its own shape, answered in its own shape: a dict, or for
        ``stream`` its SSE bytes (``.usage`` once known).  ``model`` replaces the body's."""
        call = prepare_native(self._settings, self.catalogue, model, endpoint, body, params,
                              self._targets)
        if call.stream:
            return await self._endpoint_relay(call)
        return await self._endpoint_answer(call)

    async def _endpoint_answer(self, call: EndpointCall) -> JSON:
        if call.request is None:
            return call.mock_answer()
        return call.read(await self._send(call, call.request))

    async def _endpoint_stream(self, call: EndpointCall, wrap: Any) -> AsyncStream[Any]:
        if call.request is None:
            return AsyncStream(aiter_list(call.mock_chunks()), wrap)
        upstream, events = await self._events(call, call.request, EventDecoder())
        return AsyncStream(atranslate(events, call.translator()), wrap, on_close=upstream.close)

    async def _endpoint_relay(self, call: EndpointCall) -> AsyncStream[bytes]:
        if call.request is None:
            return AsyncStream(aiter_list([encode_events(call.mock_chunks())]), same)
        relay = SseRelay(call.translator())
        upstream, blocks = await self._events(call, call.request, relay)
        return AsyncStream(blocks, same, on_close=upstream.close, usage=lambda: relay.usage)
