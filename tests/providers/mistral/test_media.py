"""The OCR and transcription translators, dicts in and out (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from gatewise import BadRequestError, InternalServerError
from gatewise.providers import mistral
from tests.fake_mistral import validate_body
from tests.fake_mistral.forms import form_body
from tests.fake_mistral.media import transcription_events, transcription_reply

PDF = {"type": "document_url", "document_url": "https://example.com/a.pdf"}


def test_ocr_body_is_mistrals_request() -> None:
    body = mistral.build_ocr_body("mistral-ocr-latest", PDF, {
        "pages": "0-2", "include_blocks": False, "user": "ignored", "stream": None,
        "extra_body": {"confidence_scores_granularity": "page"}})
    assert body == {"model": "mistral-ocr-latest", "document": PDF, "pages": "0-2",
                    "include_blocks": False, "confidence_scores_granularity": "page"}
    assert validate_body("OCRRequest", body) == []


def test_ocr_never_mutates_its_arguments() -> None:
    document = {"document_url": "https://example.com/a.pdf"}
    params: dict[str, Any] = {"pages": [0]}
    mistral.build_ocr_body("m", document, params)
    assert document == {"document_url": "https://example.com/a.pdf"}
    assert params == {"pages": [0]}


def test_ocr_answer_is_kept() -> None:
    body = {"pages": [], "model": "", "usage_info": {"pages_processed": 0}}
    assert mistral.parse_ocr_response(body, model="m")["model"] == "m"
    body["model"] = "mistral-ocr-2512"
    assert mistral.parse_ocr_response(body, model="m") is body


def _form(params: dict[str, Any], stream: bool = False) -> list[tuple[str, str]]:
    return mistral.build_transcription_form("voxtral-mini-latest",
                                            {**params, "stream": stream or None})


@pytest.mark.parametrize("stream", [False, True])
def test_transcription_form_validates_against_the_schema(stream: bool) -> None:
    fields = _form({"language": "en", "temperature": 0, "timestamp_granularities": ["word"],
                    "diarize": False, "context_bias": ["gatewise"],
                    "file_id": "497f6eca-6276-4993-bfeb-53cbbbba6f09"}, stream)
    name = "AudioTranscriptionRequestStream" if stream else "AudioTranscriptionRequest"
    body, errors = form_body(list(fields), name)
    assert errors == [] and validate_body(name, body) == []
    assert ("stream", "true") in fields if stream else ("stream", "true") not in fields
    assert ("temperature", "0.0") in fields


def test_extra_body_adds_fields() -> None:
    fields = _form({"extra_body": {"context_bias": ["a", "b"], "diarize": True}})
    assert fields[1:] == [("context_bias", "a"), ("context_bias", "b"), ("diarize", "true")]
    with pytest.raises(BadRequestError, match=r"extra_body\.x"):
        _form({"extra_body": {"x": {"nested": 1}}})


def _answer(**body: Any) -> dict[str, Any]:
    status, answer = transcription_reply(
        {"model": "voxtral-mini-latest", "file_url": "https://x/a.mp3", **body}, [])
    assert status == 200 and validate_body("TranscriptionResponse", answer) == []
    return answer


def test_json_and_verbose_json_answers() -> None:
    answer = _answer(timestamp_granularities=["segment"])
    plain = mistral.parse_transcription_response(answer, model="m", params={})
    assert set(plain) == {"text", "usage"} and plain["usage"]["type"] == "tokens"
    assert plain["usage"]["total_tokens"] == answer["usage"]["total_tokens"]
    verbose = mistral.parse_transcription_response(
        answer, model="m", params={"response_format": "verbose_json"})
    assert verbose["duration"] == answer["usage"]["prompt_audio_seconds"]
    assert [s["text"] for s in verbose["segments"]] == [s["text"] for s in answer["segments"]]
    assert "words" not in verbose


def test_duration_falls_back_to_the_last_segment() -> None:
    answer = {**_answer(timestamp_granularities=["segment"]), "usage": {}}
    verbose = mistral.parse_transcription_response(
        answer, model="m", params={"response_format": "verbose_json"})
    assert verbose["duration"] == answer["segments"][-1]["end"]


def test_stream_translation() -> None:
    answer = _answer(timestamp_granularities=["segment"], diarize=True)
    events = transcription_events(answer)
    for event in events:  # the fake's stream is schema-true
        assert validate_body("TranscriptionStreamEvents",
                             {"event": event["type"], "data": event}) == []
    translator = mistral.transcription_translator("voxtral-mini-latest")
    out = [o for e in events for o in translator.feed(e)]
    assert translator.done and translator.usage == out[-1]["usage"]
    kinds = [o["type"] for o in out]
    assert kinds.count("transcript.text.segment") == 2 and kinds[-1] == "transcript.text.done"
    assert "".join(o["delta"] for o in out if o["type"] == "transcript.text.delta") == (
        answer["text"])
    assert out[-1]["text"] == answer["text"]
    assert [o["speaker"] for o in out if "speaker" in o] == ["speaker_0", "speaker_1"]


def test_an_error_event_raises() -> None:
    translator = mistral.transcription_translator("m")
    with pytest.raises(InternalServerError, match="overloaded"):
        translator.feed({"object": "error", "message": "overloaded"})


def test_ocr_is_not_streamed() -> None:
    from gatewise import UnsupportedParamsError

    assert "stream" not in mistral.build_ocr_body("m", PDF, {"stream": False})
    with pytest.raises(UnsupportedParamsError, match="stream"):
        mistral.build_ocr_body("m", PDF, {"stream": True})
