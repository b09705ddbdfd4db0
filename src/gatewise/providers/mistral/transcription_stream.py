"""Mistral's transcription stream -> OpenAI's transcription stream events.

Mistral sends SSE events named by their ``type`` (``event:`` line, repeated in the data):
``transcription.language``, ``transcription.text.delta`` (``text``),
``transcription.segment`` (``text``, ``start``, ``end``, ``speaker_id``) and a last
``transcription.done`` (the whole answer: ``text``, ``language``, ``segments``,
``usage``); no ``[DONE]``.  OpenAI's (what ``openai``'s
``audio.transcriptions.create(..., stream=True)`` reads): ``transcript.text.delta``
(``delta``), ``transcript.text.segment`` (``id``, ``start``, ``end``, ``text``,
``speaker``) and ``transcript.text.done`` (``text``, ``usage``).  The language has no
OpenAI event and is not relayed.
"""

from __future__ import annotations

from typing import Any

from gatewise._exceptions import InternalServerError
from gatewise.providers.base import JSON
from gatewise.providers.mistral.transcription import openai_usage


class TranscriptionTranslator:
    """One per stream: ``feed`` each decoded Mistral event, get OpenAI events; ``done``
    once the last one came, ``usage`` (OpenAI's shape) with it."""

    __slots__ = ("_model", "_segments", "_text", "done", "usage")

    def __init__(self, model: str) -> None:
        self._model = model
        self._text: list[str] = []
        self._segments = 0
        self.done = False
        self.usage: JSON | None = None

    def feed(self, event: JSON) -> list[JSON]:
        if event.get("object") == "error" or "error" in event:
            raise InternalServerError(
                f"Mistral reported an error mid-stream: {event.get('message') or event}",
                provider="mistral", model=self._model, body=event)
        kind = event.get("type")
        if kind == "transcription.text.delta":
            text = _text(event.get("text"))
            self._text.append(text)
            return [{"type": "transcript.text.delta", "delta": text}] if text else []
        if kind == "transcription.segment":
            self._segments += 1
            speaker: Any = event.get("speaker_id")
            return [{"type": "transcript.text.segment", "id": f"seg_{self._segments - 1}",
                     "start": event.get("start"), "end": event.get("end"),
                     "text": _text(event.get("text")),
                     "speaker": speaker if isinstance(speaker, str) else ""}]
        if kind == "transcription.done":
            self.done = True
            self.usage = openai_usage(event.get("usage"))
            whole: Any = event.get("text")
            return [{"type": "transcript.text.done",
                     "text": whole if isinstance(whole, str) else "".join(self._text),
                     "usage": self.usage}]
        return []  # transcription.language, and any kind to come


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def transcription_translator(model: str) -> TranscriptionTranslator:
    return TranscriptionTranslator(model)
