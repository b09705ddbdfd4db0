"""OCR and transcription through the router, like chat: groups, retries on another
deployment (the upload sent again whole), cooldowns, fallbacks, streams, the sync twins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from gatewise import OCRResponse, RateLimitError, TranscriptionResponse
from gatewise.router import Router, attempts_of
from tests.fake_mistral import FakeMistral, Status
from tests.fake_mistral.forms import Upload, parse_form
from tests.fake_mistral.media import TRANSCRIPT

Fakes = dict[str, FakeMistral]
PDF = {"type": "document_url", "document_url": "https://example.com/a.pdf"}
AUDIO = b"\x01\x02" * 40_000


@pytest.fixture(scope="module")
def servers() -> Iterator[Fakes]:
    with FakeMistral() as a, FakeMistral() as b:
        yield {"a": a, "b": b}


@pytest.fixture
def fakes(servers: Fakes) -> Fakes:
    for fake in servers.values():
        fake.reset()
    return servers


def on(fakes: Fakes, name: str, server: str, model: str) -> dict[str, Any]:
    return {"model_name": name, "model_info": {"id": server},
            "params": {"model": model, "api_key": "test-key",
                       "api_base": fakes[server].base_url}}


def ocr_on(fakes: Fakes, server: str, name: str = "ocr") -> dict[str, Any]:
    return on(fakes, name, server, "mistral/mistral-ocr-latest")


def audio_on(fakes: Fakes, server: str, name: str = "voice") -> dict[str, Any]:
    return on(fakes, name, server, "mistral/voxtral-mini-latest")


@pytest.fixture
async def make() -> AsyncIterator[Any]:
    routers: list[Router] = []

    def build(model_list: list[dict[str, Any]], **settings: Any) -> Router:
        router = Router(model_list, seed=3, retry_backoff=0.001, **settings)
        routers.append(router)
        return router

    yield build
    for router in routers:
        await router.aclose()


def uploaded(fake: FakeMistral) -> list[bytes]:
    out = []
    for request in fake.requests:
        form = parse_form(request.raw, request.headers["Content-Type"]) or []
        out += [v.data for n, v in form if n == "file" and isinstance(v, Upload)]
    return out


async def test_ocr_retries_on_the_other_deployment(fakes: Fakes, make: Any) -> None:
    router = make([ocr_on(fakes, "a"), ocr_on(fakes, "b")], allowed_fails=1)
    fakes["a"].script(*[Status(503)] * 10)
    results = [await router.aocr_dict("ocr", PDF) for _ in range(6)]
    assert {r.deployment_id for r in results} == {"b"}
    assert all(r.response["usage_info"]["pages_processed"] == 3 for r in results)
    assert sum(r.retries for r in results) == 1 and len(fakes["a"].requests) == 1
    health = {h.id: h.status for h in await router.ahealth()}
    assert health == {"a": "cooling_down", "b": "healthy"}


async def test_transcription_retry_sends_the_whole_file_again(fakes: Fakes, make: Any
                                                              ) -> None:
    router = make([audio_on(fakes, "a")], num_retries=2)
    fakes["a"].script(Status(429, headers={"Retry-After": "0"}), Status(500))
    response = await router.atranscription("voice", AUDIO, language="en")
    assert isinstance(response, TranscriptionResponse) and response.text == TRANSCRIPT
    assert uploaded(fakes["a"]) == [AUDIO] * 3


@pytest.mark.parametrize("seekable", [True, False])
async def test_a_file_object_is_sent_whole_on_every_attempt(fakes: Fakes, make: Any,
                                                            seekable: bool) -> None:
    import io

    class Pipe(io.RawIOBase):  # a stream that cannot rewind
        def __init__(self) -> None:
            self._data = io.BytesIO(AUDIO)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            return self._data.readinto(buffer)

    router = make([audio_on(fakes, "a")], num_retries=2)
    fakes["a"].script(Status(503), Status(500))
    file = io.BytesIO(b"skip" + AUDIO) if seekable else Pipe()
    if seekable:
        file.read(4)
    await router.atranscription("voice", file)
    assert uploaded(fakes["a"]) == [AUDIO] * 3


async def test_fallback_to_another_group(fakes: Fakes, make: Any) -> None:
    router = make([audio_on(fakes, "a"), audio_on(fakes, "b", name="spare")],
                  num_retries=0, fallbacks=[{"voice": ["spare"]}])
    fakes["a"].script(Status(429))
    result = await router.atranscription_dict("voice", AUDIO)
    assert result.model_group == "spare" and result.fallbacks == 1
    assert uploaded(fakes["b"]) == [AUDIO]


async def test_every_attempt_failing_carries_them_all(fakes: Fakes, make: Any) -> None:
    router = make([ocr_on(fakes, "a")], num_retries=1)
    fakes["a"].script(*[Status(429, headers={"Retry-After": "0"})] * 2)
    with pytest.raises(RateLimitError) as info:
        await router.aocr("ocr", PDF)
    assert len(attempts_of(info.value)) == 2


async def test_streamed_transcription(fakes: Fakes, make: Any) -> None:
    router = make([audio_on(fakes, "a")])
    result = await router.atranscription_sse("voice", AUDIO, stream=True)
    blocks = b"".join([block async for block in result.response])
    assert blocks.count(b"transcript.text.delta") == len(TRANSCRIPT.split(" "))
    assert b"transcript.text.done" in blocks
    assert {h.in_flight for h in await router.ahealth()} == {0}


def test_sync_twins(fakes: Fakes) -> None:
    with Router([ocr_on(fakes, "a"), audio_on(fakes, "b")]) as router:
        assert isinstance(router.ocr("ocr", PDF, pages=[1]), OCRResponse)
        assert router.transcription("voice", AUDIO).text == TRANSCRIPT
        events = list(router.transcription("voice", AUDIO, stream=True))
        assert events[-1].type == "transcript.text.done"
