"""Transcription calls: the multipart request, the stream decoder, ``mock_response``, and
the typed answers.  Shared by ``Client`` and ``AsyncClient``.

The request's body is a :class:`~gatewise._multipart.MultipartBody`: the asyncio path
streams it (a file is read a chunk at a time, again for each attempt), the blocking path
sends its bytes.  Cost: the catalogue has no audio prices (mistral-models.md gives none),
so a transcription's cost is None unless prices were registered for the model (its tokens
are then billed at them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from gatewise._exceptions import APIError, BadRequestError
from gatewise._http import EventDecoder, Request
from gatewise._mock import raise_if_exception
from gatewise._multipart import MultipartBody, file_part
from gatewise._prepare import Call, _target
from gatewise._relay import encode_event
from gatewise._target import Settings, Targets, split_options
from gatewise.catalogue import Catalogue, ModelInfo, cost_for_usage
from gatewise.providers.base import TranscriptionTranslator

if TYPE_CHECKING:
    from gatewise.types import TranscriptionResponse, TranscriptionStreamEvent

JSON = dict[str, Any]
T = TypeVar("T")


def prepare_transcription(settings: Settings, catalogue: Catalogue, model: str, file: Any,
                          params: dict[str, Any], targets: Targets, *, blocking: bool
                          ) -> Call:
    """Build the request for a transcription (or note that it is mocked); ``blocking``:
    its body as bytes, else streamed."""
    options, params = split_options(dict(params))
    target = _target(settings, catalogue, model, options, targets)
    drop = bool(options.get("drop_params", settings.drop_params))
    adapter, info = target.adapter, target.info
    fields = adapter.build_transcription_form(target.model_id, params, drop_params=drop,
                                              model_info=info)
    stream = bool(params.get("stream"))
    mock = options.get("mock_response")
    request = None
    if mock is None:
        if file is None and not (params.get("file_url") or params.get("file_id")):
            raise BadRequestError("`file` is required: the audio to transcribe (or Mistral's "
                                  "file_url / file_id)", param="file")
        body = MultipartBody(fields, None if file is None else file_part(file))
        headers = {**(target.stream_headers if stream else target.headers),
                   "Content-Type": body.content_type}
        request = Request("POST", target.api_base + adapter.TRANSCRIPTIONS_PATH, headers,
                          body.to_bytes() if blocking else body)
    return Call(target.spec.name, target.model_id, adapter, info, params, stream,
                target.timeout, target.policy, mock, request, target.secrets)


def transcription_answer(call: Call, body: JSON) -> JSON:
    return call.adapter.parse_transcription_response(body, model=call.model_id,
                                                     params=call.params)


def _mock_body(mock: Any, model: str) -> JSON:
    raise_if_exception(mock)
    if not isinstance(mock, str):
        raise BadRequestError("mock_response must be a string (the transcript) or an "
                              "exception", param="mock_response")
    words = max(1, len(mock.split()))
    return {"model": model, "text": mock, "language": None, "segments": [],
            "usage": {"prompt_tokens": 10, "completion_tokens": words,
                      "total_tokens": 10 + words, "prompt_audio_seconds": 1}}


def mock_transcription(call: Call) -> JSON:
    return transcription_answer(call, _mock_body(call.mock, call.model_id))


def mock_transcription_events(call: Call) -> list[JSON]:
    """A mocked stream: a delta per word, then the done event."""
    body = _mock_body(call.mock, call.model_id)
    translator = call.adapter.transcription_translator(call.model_id)
    pieces = [f" {word}" if i else word for i, word in enumerate(body["text"].split(" "))]
    events = [e for piece in pieces
              for e in translator.feed({"type": "transcription.text.delta", "text": piece})]
    return events + translator.feed({**body, "type": "transcription.done"})


def transcription_cost(info: ModelInfo, usage: Any) -> float | None:
    """The catalogue's price of OpenAI-shaped transcription ``usage`` (None: unknown)."""
    if not isinstance(usage, dict) or usage.get("type") != "tokens":
        return cost_for_usage(info, {})
    return cost_for_usage(info, {"prompt_tokens": usage.get("input_tokens"),
                                 "completion_tokens": usage.get("output_tokens")})


def typed_transcription(call: Call, data: JSON) -> TranscriptionResponse:
    from gatewise.types import TranscriptionResponse  # (pydantic: not for the proxy)

    response = TranscriptionResponse.model_validate(data)
    response._cost = transcription_cost(call.info, data.get("usage"))
    return response


def typed_transcription_event(data: JSON) -> TranscriptionStreamEvent:
    from gatewise.types import TranscriptionStreamEvent

    return TranscriptionStreamEvent.model_validate(data)


def sse_blocks(events: list[JSON]) -> list[bytes]:
    """Events as one block of SSE bytes (none for no events)."""
    return [b"".join(map(encode_event, events))] if events else []


def as_list(events: list[JSON]) -> list[JSON]:
    return events


class TranscriptionDecoder(Generic[T]):
    """Bytes of a provider's transcription stream in, OpenAI events out (``encode`` makes
    them dicts or SSE bytes); done at the provider's last event (or a ``[DONE]``)."""

    __slots__ = ("_encode", "_events", "_failed", "_translator")

    def __init__(self, translator: TranscriptionTranslator,
                 encode: Callable[[list[JSON]], list[T]]) -> None:
        self._translator = translator
        self._encode = encode
        self._events = EventDecoder()
        self._failed: APIError | None = None

    @property
    def done(self) -> bool:
        return self._translator.done or self._events.done

    @property
    def error(self) -> Exception | None:
        return self._failed or self._events.error

    @property
    def usage(self) -> JSON | None:
        return self._translator.usage

    def feed(self, chunk: bytes) -> list[T]:
        error = self.error
        if error is not None:
            raise error
        out: list[JSON] = []
        if not self.done:
            try:
                for event in self._events.feed(chunk):
                    out += self._translator.feed(event)
                    if self._translator.done:
                        break
            except APIError as exc:  # after the events that came before it
                if not out:
                    raise
                self._failed = exc
        return self._encode(out)

    def finish(self) -> list[T]:
        return []
