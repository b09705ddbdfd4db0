"""The calls beyond chat and embeddings: code completion (FIM), moderation, and the
provider's own API (its shape in, its shape out) -- the logic ``Client`` and
``AsyncClient`` share.

Each kind is a :class:`Call` that also knows how to read its answer, translate its stream
and mock itself, so the clients serve them all with one generic answer/stream/relay path
(``_endpoint_*``).  As for chat: the target says where the call goes, the adapter builds
the body, nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gatewise._exceptions import BadRequestError
from gatewise._http import Request
from gatewise._mock import mock_chat_chunks, mock_chat_response
from gatewise._mock_endpoints import mock_moderation, mock_text_chunks, mock_text_completion
from gatewise._prepare import Call, Settings, Targets, _target, encode_body
from gatewise._target import Target, split_options
from gatewise.catalogue import Catalogue, cost_for_usage
from gatewise.catalogue.modes import served_modes
from gatewise.providers.base import StreamTranslator
from gatewise.types import (
    ModerationResponse,
    TextCompletionChunk,
    TextCompletionResponse,
)

JSON = dict[str, Any]

__all__ = ["EndpointCall", "prepare_fim", "prepare_moderation", "prepare_native"]


@dataclass(slots=True)
class EndpointCall(Call):
    """A call whose answer, stream and mock are its own kind's (see the subclasses)."""

    def read(self, body: JSON) -> JSON:
        """The upstream's answer in the shape the caller gets."""
        return body

    def mock_answer(self) -> JSON:
        raise BadRequestError("mock_response is not supported for this call",
                              param="mock_response")

    def mock_chunks(self) -> list[JSON]:
        raise BadRequestError("mock_response is not supported for this call",
                              param="mock_response")


@dataclass(slots=True)
class FimCall(EndpointCall):
    def translator(self) -> StreamTranslator:
        return self.adapter.fim_stream_translator(self.model_id, self.params, self.info)

    def read(self, body: JSON) -> JSON:
        return self.adapter.parse_fim_response(body, model=self.model_id)

    def mock_answer(self) -> JSON:
        return mock_text_completion(self.mock, self.model_id)

    def mock_chunks(self) -> list[JSON]:
        options = self.params.get("stream_options")
        usage_alone = isinstance(options, dict) and bool(options.get("include_usage"))
        return mock_text_chunks(self.mock, self.model_id, include_usage=usage_alone)


@dataclass(slots=True)
class ModerationCall(EndpointCall):
    inputs: int = 1  # how many results a mock answers with

    def read(self, body: JSON) -> JSON:
        return self.adapter.parse_moderation_response(body, model=self.model_id)

    def mock_answer(self) -> JSON:
        return mock_moderation(self.mock, self.model_id, self.inputs)


@dataclass(slots=True)
class NativeCall(EndpointCall):
    """The provider's own shape both ways; a mock (FIM only) answers in the chat shape
    Mistral's FIM uses."""

    def translator(self) -> StreamTranslator:
        return self.adapter.native_stream_translator(self.model_id, self.params, self.info)

    def mock_answer(self) -> JSON:
        return mock_chat_response(self.mock, self.model_id)

    def mock_chunks(self) -> list[JSON]:
        return mock_chat_chunks(self.mock, self.model_id)


def _wrong_mode(target: Target, what: str, example: str) -> BadRequestError:
    info = target.info
    return BadRequestError(
        f"{info.key} is a {info.mode} model: it does not do {what} (so says the "
        f"catalogue). Use a model that does, e.g. {example}; if the catalogue is wrong, "
        f"gatewise.register_model({info.key!r}, ...) can say so",
        provider=target.spec.name, model=target.model_id, param="model",
        code="model_mode_mismatch")


def _check_mode(target: Target, kind: str, what: str, example: str) -> None:
    served = served_modes(target.info)
    if served is not None and kind not in served:
        raise _wrong_mode(target, what, example)


def _request(target: Target, path: str, body: JSON, *, stream: bool, mocked: bool
             ) -> Request | None:
    if mocked:
        return None
    return Request("POST", target.api_base + path,
                   target.stream_headers if stream else target.headers, encode_body(body))


def prepare_fim(settings: Settings, catalogue: Catalogue, model: str, prompt: Any,
                params: dict[str, Any], targets: Targets) -> FimCall:
    """Build the request for a code completion (``prompt`` + optional ``suffix``)."""
    options, params = split_options(dict(params))
    target = _target(settings, catalogue, model, options, targets)
    _check_mode(target, "fim", "fill-in-the-middle code completion",
                "mistral/codestral-latest")
    drop = bool(options.get("drop_params", settings.drop_params))
    adapter = target.adapter
    body = adapter.build_fim_body(target.model_id, prompt, params, drop_params=drop,
                                  model_info=target.info)
    stream = bool(params.get("stream"))
    mock = options.get("mock_response")
    request = _request(target, adapter.FIM_PATH, body, stream=stream, mocked=mock is not None)
    return FimCall(target.spec.name, target.model_id, adapter, target.info, params, stream,
                   target.timeout, target.policy, mock, request, target.secrets)


def prepare_moderation(settings: Settings, catalogue: Catalogue, model: str, input: Any,
                       params: dict[str, Any], targets: Targets) -> ModerationCall:
    """Build the request for a moderation call (text, or conversations)."""
    options, params = split_options(dict(params))
    target = _target(settings, catalogue, model, options, targets)
    _check_mode(target, "moderation", "moderation", "mistral/mistral-moderation-latest")
    drop = bool(options.get("drop_params", settings.drop_params))
    adapter = target.adapter
    if params.get("stream"):
        raise BadRequestError("stream: moderation answers are not streamed", param="stream")
    params.pop("stream", None)
    path, body = adapter.moderation_request(target.model_id, input, params, drop_params=drop)
    mock = options.get("mock_response")
    given = body["input"]  # one result per text, one per conversation
    one = not isinstance(given, list) or (bool(given) and isinstance(given[0], dict))
    request = _request(target, path, body, stream=False, mocked=mock is not None)
    return ModerationCall(target.spec.name, target.model_id, adapter, target.info, params,
                          False, target.timeout, target.policy, mock, request, target.secrets,
                          inputs=1 if one else len(given))


def prepare_native(settings: Settings, catalogue: Catalogue, model: str, endpoint: str,
                   body: Any, params: dict[str, Any], targets: Targets) -> NativeCall:
    """Build a call to the provider's own ``endpoint`` with ``body`` in its own shape.

    ``params`` carry the call options (key, base URL, timeout...) and ``stream``; other
    model parameters (a deployment's ``temperature``...) are OpenAI-shaped and do not
    apply: the body says everything.
    """
    options, params = split_options(dict(params))
    if type(body) is not dict:
        raise BadRequestError("the request body must be a JSON object", param="body")
    target = _target(settings, catalogue, model, options, targets)
    stream = bool(params.get("stream")) or body.get("stream") is True
    adapter = target.adapter
    mock = options.get("mock_response")
    if mock is not None and endpoint != adapter.FIM_PATH:
        raise BadRequestError(f"mock_response answers only code completions, not {endpoint}",
                              param="mock_response")
    native = adapter.build_native_body(target.model_id, endpoint, body, stream=stream)
    request = _request(target, endpoint, native, stream=stream, mocked=mock is not None)
    return NativeCall(target.spec.name, target.model_id, adapter, target.info,
                      {"stream": stream}, stream, target.timeout, target.policy, mock,
                      request, target.secrets)


def typed_text_completion(call: Call, data: JSON) -> TextCompletionResponse:
    response = TextCompletionResponse.model_validate(data)
    response._cost = cost_for_usage(call.info, data.get("usage") or {})
    return response


def typed_text_chunk(data: JSON) -> TextCompletionChunk:
    return TextCompletionChunk.model_validate(data)


def typed_moderation(call: Call, data: JSON) -> ModerationResponse:
    response = ModerationResponse.model_validate(data)
    response._cost = cost_for_usage(call.info, data.get("usage") or {})
    return response
