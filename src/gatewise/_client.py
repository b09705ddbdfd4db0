"""``Client``: a call's trip from arguments to typed answer, blocking.

API -> prepare (resolve provider, adapter builds the body) -> ``_http`` sends -> adapter
parses -> types.  ``AsyncClient`` (``_async_client``) is its twin, name for name (a test
keeps them in step); each loads only its own HTTP stack.  The ``*_dict`` methods return
OpenAI-shaped dicts instead of models, for the proxy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
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
from gatewise._http import EventDecoder, Request, Timeout, _sync
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
from gatewise._streaming import Stream, same, translate
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


class Client:
    """A blocking client.  Every argument is a default each call may override.

    ``redact``: values no error may show (besides each call's key and the values of its
    extra headers, always kept out): matched in any case, masked as ``***``.
    ``callbacks``: told of every chat and embedding call (:mod:`gatewise.callbacks`).
    """

    def __init__(self, *, api_key: str | None = None, api_base: str | None = None,
                 timeout: float | Timeout | None = None, num_retries: int = 2,
                 drop_params: bool = False, extra_headers: Mapping[str, str] | None = None,
                 redact: Iterable[str] = (), catalogue: Catalogue | None = None,
                 transport: _sync.SyncTransport | None = None, ssl_verify: bool | str = True,
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
    def transport(self) -> _sync.SyncTransport:
        if self._transport is None:
            self._transport = _sync.HttpxTransport()
        return self._transport

    def completion(self, model: str, messages: list[JSON], **params: Any
                   ) -> ModelResponse | Stream[ModelResponseChunk]:
        """A chat completion; with ``stream=True`` a :class:`Stream` of chunks."""
        if self._callbacks or tracing():
            watched = Watched(self._callbacks, "chat", model, params, self.catalogue,
                              payload=messages)
            return cast("ModelResponse | Stream[ModelResponseChunk]", watched.call(
                lambda: self._completion(model, messages, **params)))
        return self._completion(model, messages, **params)

    def _completion(self, model: str, messages: list[JSON], **params: Any
                    ) -> ModelResponse | Stream[ModelResponseChunk]:
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
        if self._callbacks or tracing():
            watched = Watched(self._callbacks, "embeddings", model, params, self.catalogue,
                              payload=input)
            return cast("EmbeddingResponse", watched.call(
                lambda: self._embedding(model, input, **params)))
        return self._embedding(model, input, **params)

    def _embedding(self, model: str, input: str | list[str], **params: Any
                   ) -> EmbeddingResponse:
        call, requests = prepare_embedding(self._settings, self.catalogue, model, input,
                                           params, self._targets)
        return typed_embedding(call, self._embed(call, requests, input))

    def embedding_dict(self, model: str, input: str | list[str], **params: Any) -> JSON:
        """Like :meth:`embedding`, as a plain OpenAI-shaped dict."""
        call, requests = prepare_embedding(self._settings, self.catalogue, model, input,
                                           params, self._targets)
        return self._embed(call, requests, input)

    def embedding_json(self, model: str, input: str | list[str], **params: Any) -> JSON:
        """For relaying: like :meth:`embedding_dict`, but each vector is the upstream's own
        bytes (a ``RawJSON``: ``gatewise._rawjson`` writes the answer out), never decoded
        into floats."""
        call, requests = prepare_embedding(self._settings, self.catalogue, model, input,
                                           params, self._targets)
        if call.mock is not None:
            return self._embed(call, requests, input)
        decode = relay_decoder(call)
        parts = [_sync.send(self.transport, r, timeout=call.timeout, policy=call.policy,
                            error_for=call.error_for, provider=call.provider,
                            model=call.model_id, decode=decode) for r in requests]
        return call.adapter.merge_embedding_responses(parts)

    def _embed(self, call: Call, requests: list[Request], input: str | list[str]) -> JSON:
        if call.mock is not None:
            count = 1 if isinstance(input, str) else len(input)
            return mock_embedding_response(call.mock, call.model_id, count)
        parts = [call.adapter.parse_embedding_response(self._send(call, r), model=call.model_id)
                 for r in requests]
        return call.adapter.merge_embedding_responses(parts)

    def _send(self, call: Call, request: Request) -> JSON:
        return _sync.send(self.transport, request, timeout=call.timeout, policy=call.policy,
                          error_for=call.error_for, provider=call.provider, model=call.model_id,
                          secrets=call.secrets)

    def _answer(self, call: Call) -> JSON:
        if call.request is None:
            return mock_chat_response(call.mock, call.model_id)
        body = self._send(call, call.request)
        return call.adapter.parse_chat_response(body, model=call.model_id, model_info=call.info)

    def _stream(self, call: Call, wrap: Any) -> Stream[Any]:
        if call.request is None:
            chunks = mock_chat_chunks(call.mock, call.model_id, include_usage=include_usage(call))
            return Stream(iter(chunks), wrap)
        upstream, events = self._events(call, call.request, EventDecoder(call.secrets))
        return Stream(translate(events, call.translator()), wrap, on_close=upstream.close)

    def _relay(self, call: Call) -> Stream[bytes]:
        if call.request is None:
            chunks = mock_chat_chunks(call.mock, call.model_id, include_usage=include_usage(call))
            return Stream(iter([encode_event(c) for c in chunks]), same)
        relay = SseRelay(call.translator(), call.secrets)
        upstream, blocks = self._events(call, call.request, relay)
        return Stream(blocks, same, on_close=upstream.close, usage=lambda: relay.usage)

    def _events(self, call: Call, request: Request, decoder: Decoder[T]
                ) -> tuple[_sync.SyncRawStream, Iterator[T]]:
        """Open the stream (retrying as the call's policy says) and iterate ``decoder``'s
        items over its bytes."""
        upstream = _sync.open_stream(self.transport, request, timeout=call.timeout,
                                     policy=call.policy, error_for=call.error_for,
                                     provider=call.provider, model=call.model_id,
                                     secrets=call.secrets)
        return upstream, _sync.iter_events(upstream, provider=call.provider,
                                           model=call.model_id, secrets=call.secrets,
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

    # -- OCR and transcription (``gatewise._ocr``, ``gatewise._transcription``) ------------

    def ocr(self, model: str, document: Any, **params: Any) -> OCRResponse:
        """OCR of a document, in Mistral's shape: ``response.pages[i].markdown``."""
        call = prepare_ocr(self._settings, self.catalogue, model, document, params,
                           self._targets)
        return typed_ocr(call, self._ocr(call))

    def ocr_dict(self, model: str, document: Any, **params: Any) -> JSON:
        """Like :meth:`ocr`, as a plain dict."""
        return self._ocr(prepare_ocr(self._settings, self.catalogue, model, document, params,
                                     self._targets))

    def _ocr(self, call: Call) -> JSON:
        if call.request is None:
            return mock_ocr_response(call.mock, call.model_id)
        return ocr_answer(call, self._send(call, call.request))

    def transcription(self, model: str, file: Any = None, **params: Any
                      ) -> TranscriptionResponse | Stream[TranscriptionStreamEvent]:
        """Transcribe audio (``file``: a path, bytes or a binary file object); with
        ``stream=True`` a :class:`Stream` of OpenAI's transcription events."""
        call = prepare_transcription(self._settings, self.catalogue, model, file, params,
                                     self._targets, blocking=True)
        if call.stream:
            return self._transcription_stream(call, typed_transcription_event, sse=False)
        return typed_transcription(call, self._transcribe(call))

    def transcription_dict(self, model: str, file: Any = None, **params: Any
                           ) -> JSON | Stream[JSON]:
        """Like :meth:`transcription`, with plain OpenAI-shaped dicts."""
        call = prepare_transcription(self._settings, self.catalogue, model, file, params,
                                     self._targets, blocking=True)
        if call.stream:
            return self._transcription_stream(call, same, sse=False)
        return self._transcribe(call)

    def transcription_sse(self, model: str, file: Any = None, **params: Any
                          ) -> JSON | Stream[bytes]:
        """For relaying: like :meth:`transcription_dict`, but a stream's items are OpenAI
        SSE bytes (no ``[DONE]``); ``.usage`` once it is known."""
        call = prepare_transcription(self._settings, self.catalogue, model, file, params,
                                     self._targets, blocking=True)
        if call.stream:
            return self._transcription_stream(call, same, sse=True)
        return self._transcribe(call)

    def _transcribe(self, call: Call) -> JSON:
        if call.request is None:
            return mock_transcription(call)
        return transcription_answer(call, self._send(call, call.request))

    def _transcription_stream(self, call: Call, wrap: Any, *, sse: bool) -> Stream[Any]:
        encode: Any = sse_blocks if sse else as_list
        if call.request is None:
            return Stream(iter(encode(mock_transcription_events(call))), wrap)
        decoder = TranscriptionDecoder(call.adapter.transcription_translator(call.model_id),
                                       encode)
        upstream, items = self._events(call, call.request, decoder)
        return Stream(items, wrap, on_close=upstream.close, usage=lambda: decoder.usage)
    # -- code completion (FIM), moderation, the provider's own API (``_endpoints``) ----------

    def text_completion(self, model: str, prompt: str, **params: Any
                        ) -> TextCompletionResponse | Stream[TextCompletionChunk]:
        """Code completion (fill in the middle of ``prompt`` and ``suffix=``), in OpenAI's
        legacy completions shape; with ``stream=True`` a :class:`Stream` of chunks."""
        call = prepare_fim(self._settings, self.catalogue, model, prompt, params,
                           self._targets)
        if call.stream:
            return self._endpoint_stream(call, typed_text_chunk)
        return typed_text_completion(call, self._endpoint_answer(call))

    def text_completion_dict(self, model: str, prompt: str, **params: Any
                             ) -> JSON | Stream[JSON]:
        """Like :meth:`text_completion`, with plain OpenAI-shaped dicts."""
        call = prepare_fim(self._settings, self.catalogue, model, prompt, params,
                           self._targets)
        return self._endpoint_stream(call, same) if call.stream else self._endpoint_answer(call)

    def text_completion_sse(self, model: str, prompt: str, **params: Any
                            ) -> JSON | Stream[bytes]:
        """For relaying, as :meth:`completion_sse`: a stream's items are OpenAI SSE bytes."""
        call = prepare_fim(self._settings, self.catalogue, model, prompt, params,
                           self._targets)
        return self._endpoint_relay(call) if call.stream else self._endpoint_answer(call)

    def moderation(self, model: str, input: Any, **params: Any) -> ModerationResponse:
        """Moderate text (a string or strings) or conversations (a list of messages, or a
        list of such lists): one result per text or conversation."""
        call = prepare_moderation(self._settings, self.catalogue, model, input, params,
                                  self._targets)
        return typed_moderation(call, self._endpoint_answer(call))

    def moderation_dict(self, model: str, input: Any, **params: Any) -> JSON:
        """Like :meth:`moderation`, as a plain OpenAI-shaped dict."""
        return self._endpoint_answer(prepare_moderation(
            self._settings, self.catalogue, model, input, params, self._targets))

    def native(self, model: str, body: JSON, *, endpoint: str, **params: Any
               ) -> JSON | Stream[bytes]:
        """A call to the provider's own ``endpoint`` (e.g. ``"/chat/classifications"``)
        with ``body`` in its own shape, answered in its own shape: a dict, or for
        ``stream`` its SSE bytes (``.usage`` once known).  ``model`` replaces the body's."""
        call = prepare_native(self._settings, self.catalogue, model, endpoint, body, params,
                              self._targets)
        return self._endpoint_relay(call) if call.stream else self._endpoint_answer(call)

    def _endpoint_answer(self, call: EndpointCall) -> JSON:
        if call.request is None:
            return call.mock_answer()
        return call.read(self._send(call, call.request))

    def _endpoint_stream(self, call: EndpointCall, wrap: Any) -> Stream[Any]:
        if call.request is None:
            return Stream(iter(call.mock_chunks()), wrap)
        upstream, events = self._events(call, call.request, EventDecoder())
        return Stream(translate(events, call.translator()), wrap, on_close=upstream.close)

    def _endpoint_relay(self, call: EndpointCall) -> Stream[bytes]:
        if call.request is None:
            return Stream(iter([encode_events(call.mock_chunks())]), same)
        relay = SseRelay(call.translator())
        upstream, blocks = self._events(call, call.request, relay)
        return Stream(blocks, same, on_close=upstream.close, usage=lambda: relay.usage)
