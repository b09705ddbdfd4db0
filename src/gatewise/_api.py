"""``completion``, ``embedding``, ``text_completion``, ``moderation`` and their ``a*`` asyncio
twins: the one-line API.

Each is a thin function over a default client built on first call (environment variables
are read per call, so setting ``MISTRAL_API_KEY`` after import works).  For your own
defaults, pools or transports, make a :class:`gatewise.Client` / :class:`gatewise.AsyncClient`.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

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
        TextCompletionChunk,
        TextCompletionResponse,
    )


@cache
def default_client() -> Client:
    from gatewise._client import Client  # each path loads only its own HTTP stack

    return Client()


@cache
def default_async_client() -> AsyncClient:
    from gatewise._async_client import AsyncClient

    return AsyncClient()


def completion(model: str, messages: list[dict[str, Any]], **params: Any
               ) -> ModelResponse | Stream[ModelResponseChunk]:
    """Call a chat model, e.g. ``completion(model="mistral/mistral-small-latest",
    messages=[{"role": "user", "content": "hi"}])``.

    OpenAI's parameters are translated to the provider's; ``stream=True`` returns a
    :class:`Stream`.  Per-call options: ``api_key``, ``api_base``, ``timeout``,
    ``num_retries``, ``extra_headers``, ``drop_params``, ``mock_response``.
    """
    return default_client().completion(model, messages, **params)


async def acompletion(model: str, messages: list[dict[str, Any]], **params: Any
                      ) -> ModelResponse | AsyncStream[ModelResponseChunk]:
    """The asyncio twin of :func:`completion`; ``stream=True`` gives an :class:`AsyncStream`."""
    return await default_async_client().completion(model, messages, **params)


def embedding(model: str, input: str | list[str], **params: Any) -> EmbeddingResponse:
    """Embed text, e.g. ``embedding(model="mistral/mistral-embed", input=["a", "b"])``."""
    return default_client().embedding(model, input, **params)


async def aembedding(model: str, input: str | list[str], **params: Any) -> EmbeddingResponse:
    """The asyncio twin of :func:`embedding`."""
    return await default_async_client().embedding(model, input, **params)


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
