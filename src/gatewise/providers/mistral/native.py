"""Mistral's own API, for clients that speak it (the Mistral SDK, editor plugins): a body in
Mistral's shape goes out as it came, with only ``model`` set to the deployment's model id,
and the answer comes back as Mistral sent it -- a stream as its own SSE events.

Only the events that say something to the gateway are decoded: the one carrying ``usage``
(for the cost), an error event (raised, so the relay ends the stream with an error), and
``[DONE]``.  The others are passed on as their bytes, whole runs at a time.
"""

from __future__ import annotations

from gatewise._exceptions import BadRequestError, InternalServerError
from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.base import JSON
from gatewise.providers.mistral.response import translate_usage

#: The paths (under ``/v1``) a native call may go to, and those that stream.
NATIVE_PATHS = frozenset({"/fim/completions", "/moderations", "/chat/moderations",
                          "/classifications", "/chat/classifications"})
STREAMING_PATHS = frozenset({"/fim/completions"})
# An event holding one of these is decoded: usage, an error, the end.
_MARKS = (b'"usage"', b'"error"', b"[DONE]")


def build_native_body(model: str, endpoint: str, body: JSON, *, stream: bool) -> JSON:
    """``body`` (Mistral's request shape) for ``endpoint``, with ``model`` first and set to
    ``model``; ``stream`` says whether the caller asked for a stream."""
    if endpoint not in NATIVE_PATHS:
        raise BadRequestError(f"endpoint {endpoint!r} is not one of Mistral's native "
                              f"endpoints gatewise serves: {', '.join(sorted(NATIVE_PATHS))}",
                              provider="mistral", param="endpoint")
    if stream and endpoint not in STREAMING_PATHS:
        raise BadRequestError(f"stream: Mistral's {endpoint} does not stream",
                              provider="mistral", param="stream")
    out: JSON = {"model": model}
    out.update((k, v) for k, v in body.items() if k != "model")
    if stream:
        out["stream"] = True
    return out


class NativeStreamTranslator:
    """Passes Mistral's events on as they are; notes the usage, raises an error event."""

    usage: JSON | None = None

    def feed(self, event: JSON) -> list[JSON]:
        if event.get("object") == "error":
            raise InternalServerError(f"Mistral reported an error mid-stream: "
                                      f"{event.get('message') or event}",
                                      provider="mistral", body=event)
        usage = event.get("usage")
        if isinstance(usage, dict):
            self.usage = translate_usage(usage)
        return [event]

    def passthrough(self, data: bytes, pos: int, limit: int) -> tuple[bytes, int]:
        """The events of ``data[pos:limit]`` up to the first one to decode, as they are;
        ``(b"", pos)`` when that is the first."""
        end = limit
        marked = [at for mark in _MARKS if (at := data.find(mark, pos, limit)) >= 0]
        if marked:
            cut = data.rfind(b"\n\n", pos, min(marked))
            if cut < 0:
                return b"", pos
            end = cut + 2
        return data[pos:end], end

    def finish(self) -> list[JSON]:
        return []


def native_stream_translator(model: str, params: JSON, model_info: ModelInfo | None = None
                             ) -> NativeStreamTranslator:
    return NativeStreamTranslator()
