"""Transcription responses and stream events, shaped like OpenAI's."""

from __future__ import annotations

from gatewise.types._base import Costed, OpenAIObject


class TranscriptionUsage(OpenAIObject):
    """``type="tokens"`` (``input_tokens``, ``output_tokens``, ``total_tokens``) or
    ``type="duration"`` (``seconds``), as OpenAI's."""

    type: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    seconds: float | None = None


class TranscriptionSegment(OpenAIObject):
    id: int
    start: float
    end: float
    text: str


class TranscriptionWord(OpenAIObject):
    word: str
    start: float
    end: float


class TranscriptionResponse(Costed):
    """``response.text``; with ``response_format="verbose_json"`` also ``language``,
    ``duration``, ``segments`` and (word timestamps asked for) ``words``."""

    text: str
    usage: TranscriptionUsage | None = None
    language: str | None = None
    duration: float | None = None
    segments: list[TranscriptionSegment] | None = None
    words: list[TranscriptionWord] | None = None


class TranscriptionStreamEvent(OpenAIObject):
    """``transcript.text.delta`` (``delta``), ``transcript.text.segment`` (``start``,
    ``end``, ``text``, ``speaker``) or the last, ``transcript.text.done`` (``text``,
    ``usage``)."""

    type: str
    delta: str | None = None
    text: str | None = None
    usage: TranscriptionUsage | None = None
