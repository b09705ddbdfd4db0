"""``gatewise._multipart``: the upload body is read a chunk at a time, and again from the
start for every attempt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from gatewise._multipart import CHUNK, MultipartBody, file_part
from tests.fake_mistral.forms import Upload, parse_form

DATA = bytes(range(256)) * 1000  # 250 KiB: several chunks


async def _collect(body: MultipartBody) -> list[bytes]:
    return [chunk async for chunk in body]


def test_iterated_again_it_gives_the_same_bytes_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    path.write_bytes(DATA)
    with path.open("rb") as file:
        for source in (DATA, path, file):
            body = MultipartBody([("model", "m"), ("language", "en")], file_part(source))

            async def twice(body: MultipartBody = body) -> tuple[list[bytes], list[bytes]]:
                return await _collect(body), await _collect(body)
            first, second = asyncio.run(twice())
            assert first == second
            assert max(map(len, first[1:-1])) <= CHUNK
            assert b"".join(first) == body.to_bytes()


def test_the_form_reads_back() -> None:
    body = MultipartBody([("model", "m"), ('we"ird\r\nname', "v")],
                         file_part(('n"a\nme.mp3', DATA)))
    form = parse_form(body.to_bytes(), body.content_type)
    assert form is not None
    assert form[:2] == [("model", "m"), ("we%22ird%0D%0Aname", "v")]
    upload = form[2][1]
    assert isinstance(upload, Upload)
    assert (upload.filename, upload.content_type, upload.data) == (
        "n%22a%0Ame.mp3", "audio/mpeg", DATA)


def test_an_upload_source_is_streamed_as_it_comes() -> None:
    class Source:
        filename = "live.mp3"
        content_type = "audio/mpeg"
        iterations = 0

        def __aiter__(self) -> AsyncIterator[bytes]:
            Source.iterations += 1
            return self._chunks()

        async def _chunks(self) -> AsyncIterator[bytes]:
            for start in range(0, len(DATA), 1000):
                yield DATA[start:start + 1000]

    body = MultipartBody([("model", "m")], file_part(Source()))
    chunks = asyncio.run(_collect(body))
    assert len(chunks) == len(DATA) // 1000 + 2
    form = parse_form(b"".join(chunks), body.content_type)
    assert form is not None and isinstance(form[1][1], Upload) and form[1][1].data == DATA
    asyncio.run(_collect(body))
    assert Source.iterations == 2


def test_no_file() -> None:
    body = MultipartBody([("model", "m"), ("file_url", "https://x")], None)
    assert parse_form(body.to_bytes(), body.content_type) == [
        ("model", "m"), ("file_url", "https://x")]
