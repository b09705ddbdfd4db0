"""``completion``, ``embedding``, ``text_completion``, ``moderation`` and their ``a*`` asyncio
twins: the one-line API.

Each is a thin function over a default client built on first call (environment variables
are read per call, so setting ``MISTRAL_API_KEY`` after import works), with the module-level
settings ``gatewise.drop_params``, ``gatewise.num_retries`` and ``gatewise.request_timeout``
as defaults, read at each call.  For your own defaults, pools or transports, make a
:class:`gatewise.Client` / :class:`gatewise.AsyncClient`.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import gatewise

if TYPE_CHECKING:
    from gatewise._async_client import AsyncClient
    from gatewise._client import Client
    from gatewise._streaming import AsyncStream, Stream
    from gatewise.catalogue import ModelInfo
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


@cache
def default_client() -> Client:
    from gatewise._client import Client  # each path loads only its own HTTP stack

    return Client()


@cache
def default_async_client() -> AsyncClient:
    from gatewise._async_client import AsyncClient

    return AsyncClient()


def _with_settings(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with the module-level settings for the options the call leaves unset."""
    if gatewise.drop_params and "drop_params" not in params:
        params["drop_params"] = True
    retries = gatewise.num_retries
    if retries is not None and "num_retries" not in params and "max_retries" not in params:
        params["num_retries"] = retries
    timeout = gatewise.request_timeout
    if timeout is not None and "timeout" not in params and "request_timeout" not in params:
        params["timeout"] = timeout
    return params


def completion(model: str, messages: list[dict[str, Any]], **params: Any
               ) -> ModelResponse | Stream[ModelResponseChunk]:
    """Call a chat model, e.g. ``completion(model="mistral/mistral-small-latest",
    messages=[{"role": "user", "content": "hi"}])``.

    OpenAI's parameters are translated to the provider's; ``stream=True`` returns a
    :class:`Stream`.  Per-call options: ``api_key``, ``api_base``, ``timeout``,
    ``num_retries``, ``extra_headers``, ``drop_params``, ``mock_response``.
    """
    return default_client().completion(model, messages, **_with_settings(params))


async def acompletion(model: str, messages: list[dict[str, Any]], **params: Any
                      ) -> ModelResponse | AsyncStream[ModelResponseChunk]:
    """The asyncio twin of :func:`completion`; ``stream=True`` gives an :class:`AsyncStream`."""
    return await default_async_client().completion(model, messages,
                                                      **_with_settings(params))


def embedding(model: str, input: str | list[str], **params: Any) -> EmbeddingResponse:
    """Embed text, e.g. ``embedding(model="mistral/mistral-embed", input=["a", "b"])``."""
    return default_client().embedding(model, input, **_with_settings(params))


async def aembedding(model: str, input: str | list[str], **params: Any) -> EmbeddingResponse:
    """The asyncio twin of :func:`embedding`."""
    return await default_async_client().embedding(model, input, **_with_settings(params))


def get_model_info(model: str) -> ModelInfo:
    """What the catalogue knows of ``"provider/model-id"`` (conservative defaults, with
    ``known=False``, for a model it has no entry for)."""
    from gatewise.catalogue import default_catalogue

    return default_catalogue().get(model)


def list_models(provider: str | None = None, mode: str | None = None) -> list[ModelInfo]:
    """Every model the catalogue knows, optionally of one provider and/or mode."""
    from gatewise.catalogue import default_catalogue

    return default_catalogue().list(provider=provider, mode=mode)


def register_model(model: str | ModelInfo, /, **facts: Any) -> ModelInfo:
    """Add or override a model in the default catalogue (a fine-tune, a new model, a
    negotiated price): ``register_model("mistral/mistral-small-latest",
    input_cost_per_token=1e-7)`` changes only the facts given."""
    from gatewise.catalogue import ModelInfo, default_catalogue

    if isinstance(model, ModelInfo):
        return default_catalogue().register(model)
    return default_catalogue().register(model, **facts)


def ocr(model: str, document: Any, **params: Any) -> OCRResponse:
    """OCR a document, in Mistral's shape, e.g. ``ocr(model="mistral/mistral-ocr-latest",
    document={"type": "document_url", "document_url": "https://.../paper.pdf"})``; then
    ``response.pages[i].markdown``, and ``response.cost`` (pages processed x the model's
    price per page).  Mistral's options pass as they are: ``pages``,
    ``include_image_base64``, ``bbox_annotation_format``, ``document_annotation_format``...
    """
    return default_client().ocr(model, document, **params)


async def aocr(model: str, document: Any, **params: Any) -> OCRResponse:
    """The asyncio twin of :func:`ocr`."""
    return await default_async_client().ocr(model, document, **params)


def transcription(model: str, file: Any = None, **params: Any
                  ) -> TranscriptionResponse | Stream[TranscriptionStreamEvent]:
    """Transcribe audio, e.g. ``transcription(model="mistral/voxtral-mini-latest",
    file="talk.mp3")``; ``file`` is a path, bytes, a binary file object or a ``(filename,
    content[, content_type])`` tuple, as ``openai`` accepts.  OpenAI's ``language``,
    ``temperature``, ``response_format`` (``json``, ``text``, ``verbose_json``),
    ``timestamp_granularities`` and ``stream=True`` (a :class:`Stream` of
    ``transcript.text.delta`` ... ``transcript.text.done`` events); Mistral's
    ``diarize``, ``context_bias``, ``file_url`` and ``file_id`` too."""
    return default_client().transcription(model, file, **params)


async def atranscription(model: str, file: Any = None, **params: Any
                         ) -> TranscriptionResponse | AsyncStream[TranscriptionStreamEvent]:
    """The asyncio twin of :func:`transcription`; the file is streamed to the upstream."""
    return await default_async_client().transcription(model, file, **params)
def text_completion(model: str, prompt: str, **params: Any
                    ) -> TextCompletionResponse | Stream[TextCompletionChunk]:
    """Complete code, e.g. ``text_completion(model="mistral/codestral-latest",
    prompt="def add(a, b):", suffix="return c")``: the text that fills the gap is
    ``response.choices[0].text`` (OpenAI's legacy completions shape).

    ``max_tokens``, ``min_tokens``, ``stop``, ``temperature``, ``top_p``, ``seed``;
    ``stream=True`` returns a :class:`Stream`.  Options as for :func:`completion`.
    """
    return default_client().text_completion(model, prompt, **params)


async def atext_completion(model: str, prompt: str, **params: Any
                           ) -> TextCompletionResponse | AsyncStream[TextCompletionChunk]:
    """The asyncio twin of :func:`text_completion`."""
    return await default_async_client().text_completion(model, prompt, **params)


def moderation(model: str, input: Any, **params: Any) -> ModerationResponse:
    """Moderate text or conversations, e.g. ``moderation(model=
    "mistral/mistral-moderation-latest", input="...")``: ``response.results[i].flagged``,
    ``.categories`` and ``.category_scores`` (the provider's category names).  ``input``
    is a string, a list of strings, a conversation (a list of messages) or a list of
    conversations."""
    return default_client().moderation(model, input, **params)


async def amoderation(model: str, input: Any, **params: Any) -> ModerationResponse:
    """The asyncio twin of :func:`moderation`."""
    return await default_async_client().moderation(model, input, **params)
