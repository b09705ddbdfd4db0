"""The adapter contract and the provider registry.

An adapter is pure translation between OpenAI's shapes and a provider's wire format:
dicts in, dicts out, no sockets, environment, logging or globals.  The client
(``gatewise._client``) finds an adapter here by the ``provider/`` prefix of a model string,
reads keys and base URLs from the places the :class:`ProviderSpec` names, and sends what the
adapter built through ``gatewise._http``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from gatewise._exceptions import APIError, BadRequestError
from gatewise.catalogue._model_info import ModelInfo

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """Who to call: facts about a provider that are not about how to speak its API."""

    name: str
    adapter_module: str
    default_api_base: str
    api_key_env: str
    api_base_env: str


PROVIDERS: Mapping[str, ProviderSpec] = {
    "mistral": ProviderSpec(
        name="mistral",
        adapter_module="gatewise.providers.mistral",
        default_api_base="https://api.mistral.ai/v1",
        api_key_env="MISTRAL_API_KEY",
        api_base_env="MISTRAL_API_BASE",
    ),
}


class StreamTranslator(Protocol):
    """Turns one provider stream into OpenAI chunks; one instance per stream.

    ``feed`` takes a decoded SSE event and returns zero or more OpenAI-shaped chunk dicts;
    ``passthrough`` may take runs of raw events that read the same in OpenAI's shape;
    ``finish`` is called once the provider's stream ended cleanly and returns what is left
    (for instance a trailing usage-only chunk when ``stream_options.include_usage`` asked
    for one).
    """

    usage: JSON | None  # the stream's usage in OpenAI's shape, once an event said it

    def feed(self, event: JSON) -> list[JSON]: ...

    def finish(self) -> list[JSON]: ...

    def passthrough(self, data: bytes, pos: int, limit: int) -> tuple[bytes, int]:
        """Events at the start of ``data[pos:limit]`` (raw SSE, whole events) that need no
        decoding, as OpenAI SSE bytes, and where they end; ``(b"", pos)`` for none.  It
        looks at nothing past ``limit`` (what a call costs is bounded by its window: the
        relay keeps the sum of its windows linear).  A translator that never passes
        anything through returns ``(b"", pos)`` always."""
        ...


class Adapter(Protocol):
    """What a provider module exposes (see ``gatewise.providers.mistral``)."""

    CHAT_PATH: str
    EMBEDDINGS_PATH: str
    PARAMETERS: frozenset[str]
    """Every parameter name it takes (chat or embeddings): a config's are checked by it."""

    def build_chat_body(
        self, model: str, messages: list[JSON], params: JSON, *, drop_params: bool = False,
        model_info: ModelInfo | None = None,
    ) -> JSON: ...

    def parse_chat_response(
        self, body: JSON, *, model: str, model_info: ModelInfo | None = None
    ) -> JSON: ...

    def stream_translator(
        self, model: str, params: JSON, model_info: ModelInfo | None = None
    ) -> StreamTranslator: ...

    def error_for(
        self, status: int, body: Any, *, headers: Mapping[str, str], model: str | None
    ) -> APIError: ...

    def build_embedding_body(
        self, model: str, input: str | list[str], params: JSON, *, drop_params: bool = False,
        model_info: ModelInfo | None = None,
    ) -> JSON: ...

    def split_embedding_inputs(self, inputs: list[str]) -> list[list[str]]: ...

    def parse_embedding_response(self, body: JSON, *, model: str) -> JSON: ...

    def parse_embedding_answer(self, raw: bytes, *, model: str) -> JSON | None:
        """Like ``parse_embedding_response`` from the raw answer, each vector kept as the
        upstream's bytes (``gatewise._rawjson.RawJSON``): for relaying, never decoded;
        None when it cannot be read so (it is then decoded whole)."""
        ...

    def merge_embedding_responses(self, parts: list[JSON]) -> JSON: ...

    OCR_PATH: str

    def build_ocr_body(
        self, model: str, document: Any, params: JSON, *, drop_params: bool = False,
        model_info: ModelInfo | None = None,
    ) -> JSON: ...

    def parse_ocr_response(self, body: JSON, *, model: str) -> JSON: ...

    TRANSCRIPTIONS_PATH: str

    def build_transcription_form(
        self, model: str, params: JSON, *, drop_params: bool = False,
        model_info: ModelInfo | None = None,
    ) -> list[tuple[str, str]]:
        """The form fields of a transcription request but the file (which the client
        adds: bytes never pass through an adapter)."""
        ...

    def parse_transcription_response(self, body: JSON, *, model: str, params: JSON) -> JSON: ...

    def transcription_translator(self, model: str) -> TranscriptionTranslator: ...


    FIM_PATH: str

    def build_fim_body(
        self, model: str, prompt: Any, params: JSON, *, drop_params: bool = False,
        model_info: ModelInfo | None = None,
    ) -> JSON: ...

    def parse_fim_response(self, body: JSON, *, model: str) -> JSON: ...

    def fim_stream_translator(
        self, model: str, params: JSON, model_info: ModelInfo | None = None
    ) -> StreamTranslator: ...

    def moderation_request(
        self, model: str, input: Any, params: JSON, *, drop_params: bool = False
    ) -> tuple[str, JSON]:
        """The path and body of a moderation call (text and conversations may go to
        different endpoints)."""
        ...

    def parse_moderation_response(self, body: JSON, *, model: str) -> JSON: ...

    NATIVE_PATHS: frozenset[str]
    """The provider's own endpoints a native call (its shape in, its shape out) may use."""

    def build_native_body(self, model: str, endpoint: str, body: JSON, *, stream: bool
                          ) -> JSON: ...

    def native_stream_translator(
        self, model: str, params: JSON, model_info: ModelInfo | None = None
    ) -> StreamTranslator: ...


class TranscriptionTranslator(Protocol):
    """Turns one provider transcription stream into OpenAI's transcription stream events;
    ``done`` once its last event came (with ``usage``, OpenAI's shape)."""

    done: bool
    usage: JSON | None

    def feed(self, event: JSON) -> list[JSON]: ...


def split_model(model: str) -> tuple[str, str]:
    """``"mistral/mistral-small-latest"`` -> ``("mistral", "mistral-small-latest")``."""
    if not isinstance(model, str) or not model:
        raise BadRequestError(
            "`model` must be a non-empty 'provider/model-id' string, "
            "e.g. 'mistral/mistral-small-latest'", param="model")
    provider, sep, model_id = model.partition("/")
    if not sep or not model_id:
        raise BadRequestError(
            f"model {model!r} has no provider prefix; write it as 'provider/model-id', "
            f"e.g. 'mistral/{model}' (known providers: {', '.join(sorted(PROVIDERS))})",
            param="model",
        )
    if provider not in PROVIDERS:
        raise BadRequestError(
            f"unknown provider {provider!r} in model {model!r}; "
            f"known providers: {', '.join(sorted(PROVIDERS))}",
            param="model",
        )
    return provider, model_id


def adapter_for(provider: str) -> Adapter:
    """Import a provider's adapter module on first use (``import gatewise`` loads none)."""
    module: ModuleType = importlib.import_module(PROVIDERS[provider].adapter_module)
    adapter: Adapter = module
    return adapter
