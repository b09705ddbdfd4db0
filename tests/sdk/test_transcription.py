"""Transcription through the public API (sync and async): the file in every form openai
accepts, OpenAI's parameters on Mistral's multipart form, the three response formats,
streams, errors and retries -- against the strict fake (every form validated against
``AudioTranscriptionRequest`` / ``...Stream``, unknown fields refused)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

import gatewise
from gatewise import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    TranscriptionResponse,
    TranscriptionStreamEvent,
    UnprocessableEntityError,
    UnsupportedParamsError,
)
from gatewise.catalogue import Catalogue
from tests.fake_mistral import CutStream, Delay, FakeMistral, Status
from tests.fake_mistral.forms import Upload, parse_form
from tests.fake_mistral.media import TRANSCRIPT
from tests.sdk._media import AUDIO_MODEL, Media

AUDIO = bytes(range(256)) * 400  # 100 KiB of "audio"


def sent_form(fake: FakeMistral, index: int = -1) -> list[tuple[str, Any]]:
    request = fake.requests[index]
    form = parse_form(request.raw, request.headers["Content-Type"])
    assert form is not None
    return form


def sent_file(fake: FakeMistral, index: int = -1) -> Upload:
    files = [v for name, v in sent_form(fake, index) if name == "file"]
    assert len(files) == 1 and isinstance(files[0], Upload)
    return files[0]


def test_bytes_give_the_text_and_token_usage(media: Media) -> None:
    response = media.transcription(AUDIO)
    assert isinstance(response, TranscriptionResponse)
    assert response.text == TRANSCRIPT
    assert response.usage is not None and response.usage.type == "tokens"
    assert response.usage.total_tokens and response.usage.input_tokens == 4
    assert response.cost is None  # no audio price in the catalogue (mistral-models.md)
    assert sent_form(media.fake)[0] == ("model", "voxtral-mini-latest")
    upload = sent_file(media.fake)
    assert upload.data == AUDIO and upload.filename == "upload"


def test_a_path_sends_its_name_and_type(media: Media, tmp_path: Path) -> None:
    path = tmp_path / "talk.mp3"
    path.write_bytes(AUDIO)
    media.transcription(path)
    media.transcription(str(path))
    for index in (-2, -1):
        upload = sent_file(media.fake, index)
        assert (upload.filename, upload.content_type, upload.data) == (
            "talk.mp3", "audio/mpeg", AUDIO)


def test_file_objects_are_read_from_where_they_stand(media: Media, tmp_path: Path) -> None:
    path = tmp_path / "talk.wav"
    path.write_bytes(b"HEAD" + AUDIO)
    with path.open("rb") as file:
        file.read(4)
        media.transcription(file)
    assert sent_file(media.fake).data == AUDIO
    assert sent_file(media.fake).filename == "talk.wav"


def test_a_stream_that_cannot_rewind_and_a_tuple(media: Media) -> None:
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self._data = io.BytesIO(AUDIO)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            return self._data.readinto(buffer)

    media.transcription(Pipe())
    assert sent_file(media.fake).data == AUDIO
    media.transcription(("memo.ogg", AUDIO, "audio/ogg"))
    upload = sent_file(media.fake)
    assert (upload.filename, upload.content_type) == ("memo.ogg", "audio/ogg")


def test_openai_parameters_on_mistrals_form(media: Media) -> None:
    media.transcription(AUDIO, language="fr", temperature=0.2, prompt="",
                        timestamp_granularities=["segment", "word"], user="u-1")
    fields = [(n, v) for n, v in sent_form(media.fake) if n != "file"]
    assert fields == [("model", "voxtral-mini-latest"), ("language", "fr"),
                      ("temperature", "0.2"), ("timestamp_granularities", "segment"),
                      ("timestamp_granularities", "word")]


def test_mistrals_own_fields_pass(media: Media) -> None:
    response = media.transcription(AUDIO, diarize=True, context_bias=["Mistral", "gatewise"],
                                   response_format="verbose_json")
    fields = dict(reversed(sent_form(media.fake)))
    assert fields["diarize"] == "true" and fields["context_bias"] == "Mistral"
    assert response.segments and response.segments[0].speaker_id == "speaker_0"


def test_a_url_instead_of_a_file(media: Media) -> None:
    response = media.call("transcription", AUDIO_MODEL,
                          file_url="https://example.com/talk.mp3")
    assert response.text == TRANSCRIPT
    assert ("file_url", "https://example.com/talk.mp3") in sent_form(media.fake)


def test_verbose_json(media: Media) -> None:
    response = media.transcription(AUDIO, response_format="verbose_json",
                                   timestamp_granularities=["word"], language="en")
    assert response.language == "en" and response.duration == 6.0
    assert response.usage.type == "duration" and response.usage.seconds == 6.0
    assert [w.word for w in response.words] == TRANSCRIPT.split(" ")
    assert response.segments[0].start == 0.0
    assert all(n != "response_format" for n, _ in sent_form(media.fake))


def test_text_format_gives_the_text(media: Media) -> None:
    response = media.transcription(AUDIO, response_format="text")
    assert response.text == TRANSCRIPT


def test_stream(media: Media) -> None:
    events = media.transcription(AUDIO, stream=True)
    assert all(isinstance(e, TranscriptionStreamEvent) for e in events)
    assert [e.type for e in events[:-1]] == ["transcript.text.delta"] * len(
        TRANSCRIPT.split(" "))
    assert "".join(e.delta for e in events[:-1]) == TRANSCRIPT
    done = events[-1]
    assert done.type == "transcript.text.done" and done.text == TRANSCRIPT
    assert done.usage is not None and done.usage.total_tokens
    assert ("stream", "true") in sent_form(media.fake)
    assert media.fake.requests[-1].headers["Accept"] == "text/event-stream"


def test_stream_segments(media: Media) -> None:
    events = media.transcription(AUDIO, stream=True, timestamp_granularities=["segment"])
    segments = [e for e in events if e.type == "transcript.text.segment"]
    assert len(segments) == 2 and segments[0].model_extra["start"] == 0.0


@pytest.mark.parametrize(("params", "param"), [
    ({"response_format": "srt"}, "response_format"),
    ({"temperature": "hot"}, "temperature"),
    ({"timestamp_granularities": ["sentence"]}, "timestamp_granularities[0]"),
    ({"language": 7}, "language"),
    ({"diarize": "yes"}, "diarize"),
])
def test_bad_values_fail_before_the_network(media: Media, params: dict[str, Any],
                                            param: str) -> None:
    with pytest.raises(BadRequestError) as info:
        media.transcription(AUDIO, **params)
    assert info.value.param == param
    assert media.fake.requests == []


def test_prompt_has_no_counterpart(media: Media) -> None:
    with pytest.raises(UnsupportedParamsError, match="context_bias"):
        media.transcription(AUDIO, prompt="A talk about gateways")
    media.transcription(AUDIO, prompt="A talk about gateways", drop_params=True)
    assert all(n != "prompt" for n, _ in sent_form(media.fake))


@pytest.mark.parametrize("file", [None, 42, "/no/such/file.mp3", io.StringIO("text")])
def test_bad_files(media: Media, file: Any) -> None:
    with pytest.raises(BadRequestError) as info:
        media.call("transcription", AUDIO_MODEL, file)
    assert info.value.param == "file"
    assert media.fake.requests == []


def test_the_fake_refuses_fields_the_schema_does_not_know(media: Media) -> None:
    with pytest.raises(UnprocessableEntityError, match="bogus"):
        media.transcription(AUDIO, extra_body={"bogus": "1"})
    with pytest.raises(UnprocessableEntityError, match="language"):
        media.transcription(AUDIO, language="english")  # ^\w{2}$


def test_a_chat_model_is_refused_by_mistral(media: Media) -> None:
    with pytest.raises(BadRequestError, match="Invalid model"):
        media.transcription(AUDIO, model="mistral/mistral-small-latest")


@pytest.mark.parametrize(("status", "error"), [
    (429, RateLimitError), (502, InternalServerError), (401, AuthenticationError)])
def test_upstream_errors_are_typed(media: Media, status: int,
                                   error: type[Exception]) -> None:
    media.fake.script(Status(status))
    with pytest.raises(error):
        media.transcription(AUDIO, num_retries=0)


def test_a_retry_sends_the_whole_file_again(media: Media, tmp_path: Path) -> None:
    path = tmp_path / "talk.mp3"
    path.write_bytes(AUDIO)
    media.fake.script(Status(503), Status(500))
    with path.open("rb") as file:
        assert media.transcription(file, num_retries=2).text == TRANSCRIPT
    assert len(media.fake.requests) == 3
    assert all(sent_file(media.fake, i).data == AUDIO for i in range(3))


def test_a_stream_cut_midway_raises(media: Media) -> None:
    media.fake.script(CutStream(3))
    with pytest.raises(APIConnectionError):
        media.transcription(AUDIO, stream=True, num_retries=0)


def test_a_stream_that_ends_without_its_last_event_raises(media: Media) -> None:
    media.fake.script(CutStream(3, clean=True))
    with pytest.raises(APIConnectionError, match="before it was complete"):
        media.transcription(AUDIO, stream=True, num_retries=0)


def test_timeout(media: Media) -> None:
    media.fake.script(Delay(2))
    with pytest.raises(APITimeoutError):
        media.transcription(AUDIO, timeout=0.3, num_retries=0)


def test_mock_response(media: Media) -> None:
    assert media.transcription(AUDIO, mock_response="canned words").text == "canned words"
    events = media.transcription(AUDIO, mock_response="canned words", stream=True)
    assert [e.type for e in events] == ["transcript.text.delta"] * 2 + ["transcript.text.done"]
    assert media.fake.requests == []


def test_cost_when_the_model_has_a_price(fake_mistral: FakeMistral) -> None:
    catalogue = Catalogue()
    catalogue.register(AUDIO_MODEL, input_cost_per_token=1e-6, output_cost_per_token=2e-6)
    with gatewise.Client(api_key="test-key", api_base=fake_mistral.base_url,
                         catalogue=catalogue) as client:
        response = client.transcription(AUDIO_MODEL, AUDIO)
    assert response.usage is not None
    assert response.cost == pytest.approx(response.usage.input_tokens * 1e-6
                                          + response.usage.output_tokens * 2e-6)


def test_sse_twin_and_module_functions(mistral_env: FakeMistral) -> None:
    with gatewise.Client() as client:
        stream = client.transcription_sse(AUDIO_MODEL, AUDIO, stream=True)
        blocks = b"".join(stream)  # type: ignore[arg-type]
        assert stream.usage is not None  # type: ignore[union-attr]
    assert blocks.startswith(b'data: {"type":"transcript.text.delta"')
    assert b"[DONE]" not in blocks
    assert gatewise.transcription(AUDIO_MODEL, AUDIO).text == TRANSCRIPT

    async def module_function() -> Any:
        try:
            return await gatewise.atranscription(AUDIO_MODEL, AUDIO, language="en")
        finally:
            await gatewise._api.default_async_client().aclose()
    assert asyncio.run(module_function()).text == TRANSCRIPT


def test_module_functions_and_router_twins_match() -> None:
    import inspect

    from gatewise import _api
    from gatewise.router import Router

    for name in ("ocr", "transcription"):
        assert inspect.signature(getattr(_api, name)).parameters == inspect.signature(
            getattr(_api, "a" + name)).parameters
        sync = inspect.signature(getattr(Router, name)).parameters
        asynchronous = dict(inspect.signature(getattr(Router, "a" + name)).parameters)
        asynchronous.pop("admission")  # the proxy's admission ticket: async only
        assert list(sync) == list(asynchronous)
