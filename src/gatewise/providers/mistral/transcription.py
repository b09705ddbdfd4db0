"""Audio transcription: OpenAI's ``/v1/audio/transcriptions`` <-> Mistral's.

Both take a multipart form.  The form fields (all but the file) are built here; the file
part is the client's business (``gatewise._multipart``), as bytes never pass through an
adapter.  OpenAI's ``language``, ``temperature``, ``timestamp_granularities`` and
``stream`` have the same names at Mistral; Mistral's own ``diarize``, ``context_bias``,
``file_url`` and ``file_id`` pass as they are.  OpenAI's ``prompt`` has no counterpart
(Mistral's ``context_bias`` is a list of words, not a text): refused unless empty or
``drop_params``.  ``response_format`` is how the answer is shaped here: ``json``
(``{"text", "usage"}``), ``text`` (the same dict; the proxy answers its text as
``text/plain``) or ``verbose_json`` (``language``, ``duration``, ``segments``, ``words``).
"""

from __future__ import annotations

import math
from typing import Any

from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.base import JSON
from gatewise.providers.mistral.checks import bad
from gatewise.providers.mistral.media_params import extra_body, split_params, unsupported

TRANSCRIPTIONS_PATH = "/audio/transcriptions"
RESPONSE_FORMATS = ("json", "text", "verbose_json")
GRANULARITIES = ("segment", "word")

TRANSCRIPTION_FIELDS = frozenset({"language", "temperature", "timestamp_granularities",
                                  "diarize", "context_bias", "file_url", "file_id"})
"""Mistral's form fields besides ``model``, ``file`` and ``stream`` (spec 2026-08)."""
_KNOWN = TRANSCRIPTION_FIELDS | {"response_format", "prompt", "stream"}


def response_format(params: JSON) -> str:
    """The answer's shape the call asks for (``json`` by default), checked."""
    value = params.get("response_format")
    if value is None:
        return "json"
    if value not in RESPONSE_FORMATS:
        raise bad("response_format", f"must be one of {', '.join(RESPONSE_FORMATS)} for "
                                     f"Mistral's transcriptions (got {value!r})")
    return str(value)


def build_transcription_form(model: str, params: JSON, *, drop_params: bool = False,
                             model_info: ModelInfo | None = None) -> list[tuple[str, str]]:
    """The form fields of ``POST /v1/audio/transcriptions`` but the file, in order (a list
    field is repeated, as Mistral's SDK sends it); ``extra_body`` adds fields verbatim."""
    response_format(params)
    prompt = params.get("prompt")
    if prompt is not None and prompt != "" and not drop_params:
        raise unsupported(["prompt"], _KNOWN, "/v1/audio/transcriptions",
                          "it has no prompt; `context_bias` takes a list of words to favour")
    taken = split_params(params, TRANSCRIPTION_FIELDS, endpoint="/v1/audio/transcriptions",
                         drop_params=drop_params,
                         handled=("response_format", "prompt", "stream"))
    fields: list[tuple[str, str]] = [("model", model)]
    for name, value in taken.items():
        fields.extend((name, text) for text in _form_values(name, value))
    if params.get("stream"):
        fields.append(("stream", "true"))
    for name, value in extra_body(params).items():
        values = value if isinstance(value, list) else [value]
        fields.extend((name, _scalar(f"extra_body.{name}", v)) for v in values)
    return fields


def _form_values(name: str, value: Any) -> list[str]:
    """One parameter's form values, its type checked."""
    if name == "temperature":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise bad("temperature", "must be a finite number")
        return [repr(float(value))]
    if name == "diarize":
        if not isinstance(value, bool):
            raise bad("diarize", "must be true or false")
        return ["true" if value else "false"]
    if name in ("timestamp_granularities", "context_bias"):
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise bad(name, "must be a list of strings")
        if name == "timestamp_granularities":
            for i, item in enumerate(value):
                if item not in GRANULARITIES:
                    raise bad(f"{name}[{i}]", f"must be 'segment' or 'word' (got {item!r})")
        return list(value)
    if not isinstance(value, str):
        raise bad(name, "must be a string")
    return [value]


def _scalar(path: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise bad(path, "must be a string, a number, a boolean or a list of them")


def openai_usage(usage: Any) -> JSON:
    """Mistral's usage -> OpenAI's token usage of a transcription."""
    usage = usage if isinstance(usage, dict) else {}

    def count(key: str) -> int:
        value = usage.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    prompt, completion = count("prompt_tokens"), count("completion_tokens")
    return {"type": "tokens", "input_tokens": prompt, "output_tokens": completion,
            "total_tokens": count("total_tokens") or prompt + completion}


def audio_seconds(body: JSON) -> float:
    """The audio's length: Mistral's ``prompt_audio_seconds``, else the last segment's end."""
    usage = body.get("usage")
    seconds = usage.get("prompt_audio_seconds") if isinstance(usage, dict) else None
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return float(seconds)
    ends = [s.get("end") for s in _segments(body)]
    return max([float(e) for e in ends if isinstance(e, int | float)], default=0.0)


def _segments(body: JSON) -> list[JSON]:
    segments = body.get("segments")
    return [s for s in segments if isinstance(s, dict)] if isinstance(segments, list) else []


def parse_transcription_response(body: JSON, *, model: str, params: JSON) -> JSON:
    """Mistral's ``TranscriptionResponse`` -> OpenAI's answer in the asked
    ``response_format`` (see the module's docstring)."""
    text = body.get("text") if isinstance(body.get("text"), str) else ""
    if response_format(params) != "verbose_json":
        return {"text": text, "usage": openai_usage(body.get("usage"))}
    segments = []
    for i, segment in enumerate(_segments(body)):
        item: JSON = {"id": i, "start": segment.get("start"), "end": segment.get("end"),
                      "text": segment.get("text", "")}
        if segment.get("speaker_id") is not None:
            item["speaker_id"] = segment["speaker_id"]
        segments.append(item)
    duration = audio_seconds(body)
    answer: JSON = {"task": "transcribe", "language": body.get("language") or "",
                    "duration": duration, "text": text, "segments": segments,
                    "usage": {"type": "duration", "seconds": duration}}
    if "word" in (params.get("timestamp_granularities") or ()):
        answer["words"] = [{"word": str(s["text"]).strip(), "start": s["start"],
                            "end": s["end"]} for s in segments]
    return answer
