"""gatewise: call Mistral AI through OpenAI's interface, as a library or a proxy.

>>> from gatewise import completion
>>> response = completion(model="mistral/mistral-small-latest",
...                       messages=[{"role": "user", "content": "hello"}])

Importing gatewise does no work: each public name is loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXCEPTIONS = (
    "APIConnectionError", "APIError", "APIResponseValidationError", "APIStatusError",
    "APITimeoutError", "AuthenticationError", "BadRequestError", "ConflictError",
    "ContentPolicyViolationError", "ContextWindowExceededError", "GatewiseError",
    "InternalServerError", "NotFoundError", "PermissionDeniedError", "RateLimitError",
    "ServiceUnavailableError", "UnprocessableEntityError", "UnsupportedParamsError",
)
_TYPES = (
    "ModelResponse", "ModelResponseChunk", "Message", "ToolCall", "Usage", "Choice",
    "Delta", "EmbeddingResponse", "Embedding",
    "TextCompletionResponse", "TextCompletionChunk", "TextChoice", "ModerationResponse",
    "ModerationResult",
)

_WHERE: dict[str, str] = {
    "completion": "gatewise._api",
    "acompletion": "gatewise._api",
    "embedding": "gatewise._api",
    "aembedding": "gatewise._api",
    "get_model_info": "gatewise._api",
    "list_models": "gatewise._api",
    "register_model": "gatewise._api",
    "text_completion": "gatewise._api",
    "atext_completion": "gatewise._api",
    "moderation": "gatewise._api",
    "amoderation": "gatewise._api",
    "completion_cost": "gatewise.catalogue",
    "token_counter": "gatewise.catalogue",
    "ModelInfo": "gatewise.catalogue",
    "Catalogue": "gatewise.catalogue",
    "Client": "gatewise._client",
    "AsyncClient": "gatewise._async_client",
    "Router": "gatewise.router",
    "Stream": "gatewise._streaming",
    "AsyncStream": "gatewise._streaming",
    "stream_chunk_builder": "gatewise._streaming",
    "Timeout": "gatewise._http",
    **{name: "gatewise._exceptions" for name in _EXCEPTIONS},
    **{name: "gatewise.types" for name in _TYPES},
}

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "Catalogue",
    "Choice",
    "Client",
    "ConflictError",
    "ContentPolicyViolationError",
    "ContextWindowExceededError",
    "Delta",
    "Embedding",
    "EmbeddingResponse",
    "GatewiseError",
    "InternalServerError",
    "Message",
    "ModelInfo",
    "ModelResponse",
    "ModelResponseChunk",
    "ModerationResponse",
    "ModerationResult",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "Router",
    "ServiceUnavailableError",
    "Stream",
    "TextChoice",
    "TextCompletionChunk",
    "TextCompletionResponse",
    "Timeout",
    "ToolCall",
    "UnprocessableEntityError",
    "UnsupportedParamsError",
    "Usage",
    "__version__",
    "acompletion",
    "aembedding",
    "amoderation",
    "atext_completion",
    "completion",
    "completion_cost",
    "embedding",
    "get_model_info",
    "list_models",
    "moderation",
    "register_model",
    "stream_chunk_builder",
    "text_completion",
    "token_counter",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'gatewise' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from gatewise._api import (
        acompletion,
        aembedding,
        amoderation,
        atext_completion,
        completion,
        embedding,
        get_model_info,
        list_models,
        moderation,
        register_model,
        text_completion,
    )
    from gatewise._async_client import AsyncClient
    from gatewise._client import Client
    from gatewise._exceptions import (
        APIConnectionError,
        APIError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        ContentPolicyViolationError,
        ContextWindowExceededError,
        GatewiseError,
        InternalServerError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ServiceUnavailableError,
        UnprocessableEntityError,
        UnsupportedParamsError,
    )
    from gatewise._http import Timeout
    from gatewise._streaming import AsyncStream, Stream, stream_chunk_builder
    from gatewise.catalogue import Catalogue, ModelInfo, completion_cost, token_counter
    from gatewise.router import Router
    from gatewise.types import (
        Choice,
        Delta,
        Embedding,
        EmbeddingResponse,
        Message,
        ModelResponse,
        ModelResponseChunk,
        ModerationResponse,
        ModerationResult,
        TextChoice,
        TextCompletionChunk,
        TextCompletionResponse,
        ToolCall,
        Usage,
    )
