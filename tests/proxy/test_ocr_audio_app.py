"""``POST /v1/ocr`` and ``POST /v1/audio/transcriptions`` straight into the ASGI app,
against the strict fake: shapes, cost, the wrong mode, limits, errors, and a client's
upload relayed as it arrives (sent again whole on retry; its faults answered as its own)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from gatewise.proxy.app import ProxyApp
from tests.fake_mistral import FakeMistral, Status, validate_body
from tests.fake_mistral.forms import Upload, parse_form
from tests.fake_mistral.media import TRANSCRIPT
from tests.proxy._checks import sse_data
from tests.proxy._media import AUDIO, FORM_TYPE, form, media_config, pieces
from tests.proxy.conftest import Answer, call, make_app

PDF = {"type": "document_url", "document_url": "https://example.com/a.pdf"}


@pytest.fixture
async def app(fake_mistral: FakeMistral) -> AsyncIterator[ProxyApp]:
    app = make_app(media_config(fake_mistral))
    yield app
    await app.state.aclose()


async def upload(app: ProxyApp, body: bytes, *, size: int = 5000, length: bool = True,
                 path: str = "/v1/audio/transcriptions") -> Answer:
    headers = {"content-type": FORM_TYPE}
    if length:
        headers["content-length"] = str(len(body))
    return await call(app, "POST", path, headers=headers, body_parts=pieces(body, size))


def uploads(fake: FakeMistral) -> list[tuple[list[tuple[str, Any]], bytes]]:
    """Each transcription the fake received: its text fields, and the file."""
    out = []
    for request in fake.requests:
        parts = parse_form(request.raw, request.headers["Content-Type"]) or []
        files = [v.data for _, v in parts if isinstance(v, Upload)]
        out.append(([(n, v) for n, v in parts if not isinstance(v, Upload)], files[0]))
    return out


# -- OCR ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/ocr", "/ocr"])
async def test_ocr(app: ProxyApp, fake_mistral: FakeMistral, path: str) -> None:
    answer = await call(app, "POST", path, {"model": "ocr", "document": PDF, "pages": [0, 1],
                                            "include_image_base64": True})
    assert answer.status == 200, answer.body
    body = answer.json()
    assert validate_body("OCRResponse", body) == []
    assert body["usage_info"]["pages_processed"] == 2
    assert float(answer.headers["x-gatewise-response-cost"]) == pytest.approx(2 * 0.004)
    assert answer.headers["x-gatewise-model-id"] == "ocr#0"
    assert fake_mistral.requests[-1].json == {"model": "mistral-ocr-latest", "document": PDF,
                                              "pages": [0, 1], "include_image_base64": True}


async def test_ocr_needs_an_ocr_model_and_a_document(app: ProxyApp,
                                                     fake_mistral: FakeMistral) -> None:
    wrong = await call(app, "POST", "/v1/ocr", {"model": "chat", "document": PDF})
    assert wrong.status == 400 and wrong.error()["code"] == "model_mode_mismatch"
    assert "OCR" in wrong.error()["message"]
    missing = await call(app, "POST", "/v1/ocr", {"model": "ocr"})
    assert missing.status == 400 and missing.error()["param"] == "document"
    bad = await call(app, "POST", "/v1/ocr", {"model": "ocr", "document": {"type": "x"}})
    assert bad.status == 400 and bad.error()["param"] == "document.type"
    key = await call(app, "POST", "/v1/ocr", {"model": "ocr", "document": PDF,
                                              "api_base": "http://evil"})
    assert key.status == 400 and key.error()["param"] == "api_base"
    assert fake_mistral.requests == []


@pytest.mark.parametrize(("status", "expected"), [(429, 429), (500, 500), (401, 401),
                                                  (422, 422)])
async def test_ocr_upstream_errors(app: ProxyApp, fake_mistral: FakeMistral, status: int,
                                   expected: int) -> None:
    fake_mistral.script(Status(status))
    answer = await call(app, "POST", "/v1/ocr", {"model": "ocr", "document": PDF})
    assert answer.status == expected
    assert answer.error()
    assert "test-key" not in answer.body.decode()


async def test_ocr_timeout(fake_mistral: FakeMistral) -> None:
    from tests.fake_mistral import Delay

    config = media_config(fake_mistral)
    config["model_list"][0]["params"]["timeout"] = 0.3
    app = make_app(config)
    fake_mistral.script(Delay(2))
    answer = await call(app, "POST", "/v1/ocr", {"model": "ocr", "document": PDF})
    assert answer.status == 504 and answer.error()["type"] == "timeout"
    await app.state.aclose()


# -- transcriptions --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/audio/transcriptions"])
async def test_transcription_with_the_file_last(app: ProxyApp, fake_mistral: FakeMistral,
                                                path: str) -> None:
    body = form(("model", "voice"), ("language", "en"), ("temperature", "0.1"),
                ("timestamp_granularities[]", "segment"), ("file", ("talk.mp3", AUDIO)))
    answer = await upload(app, body, path=path)
    assert answer.status == 200, answer.body
    assert answer.json()["text"] == TRANSCRIPT
    assert answer.json()["usage"]["type"] == "tokens"
    assert "x-gatewise-response-cost" not in answer.headers  # no audio price known
    [(fields, data)] = uploads(fake_mistral)
    assert data == AUDIO
    assert fields == [("model", "voxtral-mini-latest"), ("language", "en"),
                      ("temperature", "0.1"), ("timestamp_granularities", "segment")]


async def test_response_formats(app: ProxyApp) -> None:
    text = await upload(app, form(("model", "voice"), ("response_format", "text"),
                                  ("file", ("a.mp3", AUDIO))))
    assert text.status == 200 and text.body == TRANSCRIPT.encode()
    assert text.headers["content-type"].startswith("text/plain")
    verbose = await upload(app, form(("model", "voice"), ("response_format", "verbose_json"),
                                     ("timestamp_granularities[]", "word"),
                                     ("file", ("a.mp3", AUDIO))))
    assert verbose.json()["words"][0] == {"word": "Hello", "start": 0.0, "end": 0.4}


async def test_the_model_after_the_file(app: ProxyApp, fake_mistral: FakeMistral) -> None:
    answer = await upload(app, form(("file", ("a.mp3", AUDIO)), ("model", "voice"),
                                    ("language", "fr")))
    assert answer.status == 200, answer.body
    [(fields, data)] = uploads(fake_mistral)
    assert data == AUDIO and ("language", "fr") in fields


async def test_fields_after_the_file_start_the_call_again(app: ProxyApp,
                                                          fake_mistral: FakeMistral) -> None:
    answer = await upload(app, form(("model", "voice"), ("file", ("a.mp3", AUDIO)),
                                    ("language", "de"), ("response_format", "text")))
    assert answer.status == 200, answer.body
    assert answer.body == TRANSCRIPT.encode()  # the late response_format applies
    [(fields, data)] = uploads(fake_mistral)  # the abandoned attempt never completed
    assert data == AUDIO and ("language", "de") in fields


async def test_a_stream(app: ProxyApp) -> None:
    answer = await upload(app, form(("model", "voice"), ("stream", "true"),
                                    ("file", ("a.mp3", AUDIO))))
    assert answer.status == 200 and answer.headers["content-type"].startswith(
        "text/event-stream")
    events = sse_data(answer.body)
    assert events[-1] == b"[DONE]"
    decoded = [orjson.loads(e) for e in events[:-1]]
    assert decoded[-1]["type"] == "transcript.text.done"
    assert "".join(e.get("delta", "") for e in decoded) == TRANSCRIPT


async def test_a_retry_sends_the_relayed_file_again(fake_mistral: FakeMistral) -> None:
    config = media_config(fake_mistral)
    config["model_list"][1]["params"]["max_retries"] = 1
    app = make_app(config)
    fake_mistral.script(Status(503))
    answer = await upload(app, form(("model", "voice"), ("file", ("a.mp3", AUDIO))), size=999)
    assert answer.status == 200, answer.body
    assert answer.headers["x-gatewise-attempted-retries"] == "1"
    assert [data for _, data in uploads(fake_mistral)] == [AUDIO, AUDIO]
    await app.state.aclose()


@pytest.mark.parametrize(("length", "model_first"), [(True, True), (False, True),
                                                    (False, False)])
async def test_too_large(fake_mistral: FakeMistral, length: bool, model_first: bool) -> None:
    app = make_app(media_config(fake_mistral, max_audio_upload_bytes=20_000))
    parts = [("model", "voice"), ("file", ("a.mp3", AUDIO))]
    answer = await upload(app, form(*(parts if model_first else parts[::-1])),
                          length=length)
    assert answer.status == 413 and answer.error()["code"] == "request_too_large"
    assert "max_audio_upload_bytes" in answer.error()["message"]
    assert fake_mistral.requests == []  # nothing complete reached it
    health = {h.id: h for h in await app.state.router.ahealth()}
    assert health["voice#0"].failures_last_minute == 0  # the client's fault, not Mistral's
    await app.state.aclose()


async def test_a_client_leaving_mid_upload_costs_the_deployment_nothing(
        app: ProxyApp, fake_mistral: FakeMistral) -> None:
    body = form(("model", "voice"), ("file", ("a.mp3", AUDIO)))
    messages = [{"type": "http.request", "body": p, "more_body": True}
                for p in pieces(body)[:5]] + [{"type": "http.disconnect"}]
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/audio/transcriptions",
             "headers": [(b"content-type", FORM_TYPE.encode())], "query_string": b""}
    await asyncio.wait_for(app(scope, receive, send), 10)
    assert sent == []  # nobody to answer
    assert fake_mistral.requests == []
    health = {h.id: h for h in await app.state.router.ahealth()}
    assert health["voice#0"].failures_last_minute == 0
    assert health["voice#0"].in_flight == 0


@pytest.mark.parametrize(("parts", "param"), [
    ((("model", "chat"), ("file", ("a.mp3", AUDIO))), "model"),
    ((("model", "voice"),), "file"),
    ((("model", "voice"), ("prompt", "hello"), ("file", ("a.mp3", AUDIO))), "prompt"),
    ((("model", "voice"), ("temperature", "warm"), ("file", ("a.mp3", AUDIO))),
     "temperature"),
    ((("model", "voice"), ("stream", "maybe"), ("file", ("a.mp3", AUDIO))), "stream"),
    ((("model", "voice"), ("response_format", "srt"), ("file", ("a.mp3", AUDIO))),
     "response_format"),
    ((("model", "voice"), ("api_key", "x"), ("file", ("a.mp3", AUDIO))), "api_key"),
    ((("model", "voice"), ("file", "not a file")), "file"),
    ((("model", "voice"), ("other", ("b.mp3", b"x")), ("file", ("a.mp3", AUDIO))), "other"),
])
async def test_bad_forms(app: ProxyApp, fake_mistral: FakeMistral,
                         parts: tuple[Any, ...], param: str) -> None:
    answer = await upload(app, form(*parts))
    assert answer.status == 400, answer.body
    assert answer.error()["param"] == param
    assert fake_mistral.requests == []


async def test_not_a_form(app: ProxyApp) -> None:
    answer = await call(app, "POST", "/v1/audio/transcriptions", {"model": "voice"})
    assert answer.status == 400 and "multipart/form-data" in answer.error()["message"]
    cut = await upload(app, form(("model", "voice"), ("file", ("a.mp3", AUDIO)))[:-30])
    assert cut.status == 400


@pytest.mark.parametrize(("status", "expected"), [(429, 429), (503, 503), (401, 401)])
async def test_transcription_upstream_errors(app: ProxyApp, fake_mistral: FakeMistral,
                                             status: int, expected: int) -> None:
    fake_mistral.script(Status(status))
    answer = await upload(app, form(("model", "voice"), ("file", ("a.mp3", AUDIO))))
    assert answer.status == expected and answer.error()


async def test_mocked_deployments(fake_mistral: FakeMistral) -> None:
    app = make_app({"model_list": [
        {"model_name": "ocr", "params": {"model": "mistral/mistral-ocr-latest",
                                         "mock_response": "# mocked"}},
        {"model_name": "voice", "params": {"model": "mistral/voxtral-mini-latest",
                                           "mock_response": "mocked words"}}]})
    ocr = await call(app, "POST", "/v1/ocr", {"model": "ocr", "document": PDF})
    assert ocr.json()["pages"][0]["markdown"] == "# mocked"
    assert ocr.headers["x-gatewise-response-cost"] == "0"
    voice = await upload(app, form(("model", "voice"), ("file", ("a.mp3", AUDIO))))
    assert voice.json()["text"] == "mocked words"
    assert fake_mistral.requests == []
    await app.state.aclose()


async def test_an_upload_sent_from_the_request_task_itself_raises_cancelled() -> None:
    """A transport that writes the body in the caller's task (no writer task of its own)
    gets a cancellation, which neither it nor the router books as the upstream's fault."""
    from gatewise.proxy._asgi import ClientDisconnected
    from gatewise.proxy._upload import Upload

    class Leaving:
        async def next(self) -> tuple[Any, ...]:
            raise ClientDisconnected

    upload = Upload(Leaving(), "a.mp3", "audio/mpeg", [("model", "voice")])  # type: ignore[arg-type]
    with pytest.raises(asyncio.CancelledError):
        _ = [chunk async for chunk in upload]
    assert isinstance(upload.failure, ClientDisconnected)
    upload.close()
