"""gatewise: call Mistral AI through OpenAI's interface, as a library or a proxy.

>>> from gatewise import completion
>>> response = completion(model="mistral/mistral-small-latest",
...                       messages=[{"role": "user", "content": "hello"}])

Importing gatewise does no work: each public name is loaded on first use.

Three module-level settings, as LiteLLM users know them, are the defaults of ``completion``,
``embedding`` and their async twins, read at each call (a call's own argument wins)::

    gatewise.drop_params = True     # drop parameters the provider cannot honour
    gatewise.num_retries = 3        # retries of a failed call (default 2)
    gatewise.request_timeout = 30   # seconds a call may wait for the upstream (default 600)

Any other attribute set on the module is an error: other defaults are ``Client(...)``
arguments.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

drop_params: bool = False
num_retries: int | None = None
request_timeout: float | None = None

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
    "OCRResponse", "TranscriptionResponse", "TranscriptionStreamEvent",
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
    "Callback": "gatewise.callbacks",
    "RequestRecord": "gatewise.record",
    "Stream": "gatewise._streaming",
    "AsyncStream": "gatewise._streaming",
    "stream_chunk_builder": "gatewise._streaming",
    "Timeout": "gatewise._http",
    "ocr": "gatewise._api",
    "aocr": "gatewise._api",
    "transcription": "gatewise._api",
    "atranscription": "gatewise._api",
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
    "Callback",
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
    "OCRResponse",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestRecord",
    "Router",
    "ServiceUnavailableError",
    "Stream",
    "TextChoice",
    "TextCompletionChunk",
    "TextCompletionResponse",
    "Timeout",
    "ToolCall",
    "TranscriptionResponse",
    "TranscriptionStreamEvent",
    "UnprocessableEntityError",
    "UnsupportedParamsError",
    "Usage",
    "__version__",
    "acompletion",
    "aembedding",
    "amoderation",
    "aocr",
    "atext_completion",
    "atranscription",
    "completion",
    "completion_cost",
    "embedding",
    "get_model_info",
    "list_models",
    "moderation",
    "ocr",
    "register_model",
    "stream_chunk_builder",
    "text_completion",
    "token_counter",
    "transcription",
]


def _checked_setting(name: str, value: Any) -> Any:
    if name == "drop_params":
        if not isinstance(value, bool):
            raise TypeError(f"gatewise.drop_params must be True or False, got {value!r}")
    elif name == "num_retries":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise ValueError(f"gatewise.num_retries must be a whole number >= 0 (or None for "
                             f"the default), got {value!r}")
    elif value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                or not 0 < value < float("inf")):
        raise ValueError(f"gatewise.request_timeout must be a number of seconds > 0 (or None "
                         f"for the default), got {value!r}")
    return value


_SETTINGS = ("drop_params", "num_retries", "request_timeout")


class _Module(ModuleType):
    """The module's own type: it checks what is set on it (LiteLLM's idiom of module
    settings would otherwise be taken silently, and ignored)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SETTINGS:
            value = _checked_setting(name, value)
        elif not (name.startswith("_") or name in _WHERE or name in self.__dict__):
            raise AttributeError(
                f"gatewise has no setting {name!r}: the module-level settings are "
                f"{', '.join(_SETTINGS)} (defaults of completion(), embedding() and their "
                "async twins). For other defaults make a client, e.g. gatewise.Client("
                "api_key=..., api_base=..., timeout=..., num_retries=..., drop_params=..., "
                "extra_headers=...), or pass them per call.")
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Module


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
        aocr,
        atext_completion,
        atranscription,
        completion,
        embedding,
        get_model_info,
        list_models,
        moderation,
        ocr,
        register_model,
        text_completion,
        transcription,
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
    from gatewise.callbacks import Callback
    from gatewise.catalogue import Catalogue, ModelInfo, completion_cost, token_counter
    from gatewise.record import RequestRecord
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
        OCRResponse,
        TextChoice,
        TextCompletionChunk,
        TextCompletionResponse,
        ToolCall,
        TranscriptionResponse,
        TranscriptionStreamEvent,
        Usage,
    )
