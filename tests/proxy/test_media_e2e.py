"""OCR, transcription and the ``/mistral/*`` pass-through through the real CLI in a
subprocess, against the fake Mistral server: the ``openai`` package where it has the
method, curl for the rest; and a large upload that must not swell the proxy's memory."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.fake_mistral import FakeMistral, Status
from tests.fake_mistral.forms import Upload, parse_form
from tests.fake_mistral.media import DOCUMENT_PAGES, TRANSCRIPT
from tests.proxy._checks import sse_data
from tests.proxy._media import media_config
from tests.proxy._server import Proxy, run_proxy_with

MASTER = "sk-media-e2e-master"
AUDIO = bytes(range(256)) * 512  # 128 KiB
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@pytest.fixture(scope="module")
def proxy(_fake_server: FakeMistral, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Proxy]:
    workdir = tmp_path_factory.mktemp("media")
    config = media_config(_fake_server, master_key=MASTER)
    with run_proxy_with(config, workdir) as server:
        yield server


@pytest.fixture
def fake(proxy: Proxy, fake_mistral: FakeMistral) -> FakeMistral:
    return fake_mistral


def client(proxy: Proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.url + "/v1", api_key=MASTER, max_retries=0)


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "-H", f"Authorization: Bearer {MASTER}", *args],
                          check=True, capture_output=True, text=True, timeout=60)


def no_master_key_upstream(fake: FakeMistral) -> None:
    assert fake.requests
    for request in fake.requests:
        assert request.headers["Authorization"] == "Bearer test-key"
        assert MASTER not in json.dumps(dict(request.headers))


def sent_file(fake: FakeMistral) -> bytes:
    request = fake.requests[-1]
    form = parse_form(request.raw, request.headers["Content-Type"]) or []
    [data] = [v.data for _, v in form if isinstance(v, Upload)]
    return data


# -- transcription with the openai package -----------------------------------------------

def test_openai_transcription_formats(proxy: Proxy, fake: FakeMistral) -> None:
    audio = client(proxy).audio.transcriptions
    plain = audio.create(model="voice", file=("talk.mp3", AUDIO), language="en")
    assert plain.text == TRANSCRIPT and plain.usage is not None
    assert sent_file(fake) == AUDIO
    text = audio.create(model="voice", file=("talk.mp3", AUDIO), response_format="text")
    assert text == TRANSCRIPT
    verbose = audio.create(model="voice", file=("talk.mp3", AUDIO),
                           response_format="verbose_json", timestamp_granularities=["word"])
    assert verbose.words is not None and verbose.words[0].word == "Hello"
    assert verbose.duration > 0
    no_master_key_upstream(fake)


def test_openai_transcription_stream(proxy: Proxy, fake: FakeMistral) -> None:
    stream = client(proxy).audio.transcriptions.create(
        model="voice", file=("talk.mp3", AUDIO), stream=True)
    events = list(stream)
    assert {e.type for e in events[:-1]} == {"transcript.text.delta"}
    assert "".join(e.delta for e in events[:-1]) == TRANSCRIPT  # type: ignore[union-attr]
    assert events[-1].type == "transcript.text.done"
    assert events[-1].text == TRANSCRIPT  # type: ignore[union-attr]


def test_openai_transcription_errors(proxy: Proxy, fake: FakeMistral) -> None:
    audio = client(proxy).audio.transcriptions
    with pytest.raises(openai.BadRequestError, match="does not serve audio transcriptions"):
        audio.create(model="chat", file=("talk.mp3", AUDIO))
    fake.script(Status(429))
    with pytest.raises(openai.RateLimitError):
        audio.create(model="voice", file=("talk.mp3", AUDIO))
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=proxy.url + "/v1", api_key="wrong", max_retries=0
                      ).audio.transcriptions.create(model="voice", file=("a.mp3", AUDIO))


@needs_curl
def test_curl_transcription_with_the_file_first(proxy: Proxy, fake: FakeMistral,
                                                tmp_path: Path) -> None:
    path = tmp_path / "talk.mp3"
    path.write_bytes(AUDIO)
    out = curl(f"{proxy.url}/v1/audio/transcriptions", "-F", f"file=@{path}",
               "-F", "model=voice", "-F", "language=en").stdout
    assert json.loads(out)["text"] == TRANSCRIPT
    assert sent_file(fake) == AUDIO


# -- OCR with curl --------------------------------------------------------------------------

@needs_curl
def test_curl_ocr(proxy: Proxy, fake: FakeMistral) -> None:
    result = curl("-i", f"{proxy.url}/v1/ocr", "-H", "Content-Type: application/json",
                  "-d", json.dumps({"model": "ocr", "document": {
                      "type": "document_url", "document_url": "https://example.com/a.pdf"}}))
    head, _, body = result.stdout.partition("\n\n")  # text mode: CRLF read as LF
    assert head.startswith("HTTP/1.1 200")
    assert json.loads(body)["usage_info"]["pages_processed"] == DOCUMENT_PAGES
    assert f"x-gatewise-response-cost: {DOCUMENT_PAGES * 0.004:g}" in head.lower()
    no_master_key_upstream(fake)


# -- the pass-through with curl -------------------------------------------------------------

@needs_curl
def test_curl_pass_through_files_and_batch(proxy: Proxy, fake: FakeMistral,
                                           tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text('{"custom_id": "0", "body": {"messages": []}}\n' * 100)
    uploaded = json.loads(curl(f"{proxy.url}/mistral/v1/files", "-F", "purpose=batch",
                               "-F", f"file=@{path}").stdout)
    assert uploaded["filename"] == "batch.jsonl" and uploaded["bytes"] == path.stat().st_size
    listed = json.loads(curl(f"{proxy.url}/mistral/v1/files?purpose=batch").stdout)
    assert [f["id"] for f in listed["data"]] == [uploaded["id"]]
    job = json.loads(curl(f"{proxy.url}/mistral/v1/batch/jobs", "-H",
                          "Content-Type: application/json", "-d", json.dumps({
                              "input_files": [uploaded["id"]],
                              "endpoint": "/v1/chat/completions",
                              "model": "mistral-small-latest"})).stdout)
    got = json.loads(curl(f"{proxy.url}/mistral/v1/batch/jobs/{job['id']}").stdout)
    assert got["id"] == job["id"] and got["status"] == "QUEUED"
    missing = curl("-o", "/dev/null", "-w", "%{http_code}",
                   f"{proxy.url}/mistral/v1/batch/jobs/{uuid.uuid4()}").stdout
    assert missing == "404"
    no_master_key_upstream(fake)


@needs_curl
def test_curl_pass_through_agents_stream(proxy: Proxy, fake: FakeMistral) -> None:
    fake.stream_delay = 0.01
    out = curl("-N", f"{proxy.url}/mistral/v1/agents/completions", "-H",
               "Content-Type: application/json", "-d", json.dumps({
                   "agent_id": "ag-1", "stream": True,
                   "messages": [{"role": "user", "content": "hi"}]})).stdout
    events = sse_data(out.encode())
    assert events[-1] == b"[DONE]"
    assert json.loads(events[0])["object"] == "chat.completion.chunk"
    no_master_key_upstream(fake)


# -- memory ----------------------------------------------------------------------------------

def _high_water_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_large_upload_does_not_swell_the_proxy(proxy: Proxy, fake: FakeMistral) -> None:
    big = bytes(range(256)) * (20 * 1024 * 1024 // 256)  # 20 MiB

    def send(data: bytes) -> Any:
        return httpx.post(f"{proxy.url}/v1/audio/transcriptions", timeout=120,
                          headers={"Authorization": f"Bearer {MASTER}"},
                          data={"model": "voice"}, files={"file": ("big.wav", data)})

    assert send(big[:2 * 1024 * 1024]).status_code == 200  # warm: every path loaded once
    before = _high_water_kib(proxy.process.pid)
    answer = send(big)
    after = _high_water_kib(proxy.process.pid)
    assert answer.status_code == 200, answer.text
    assert sent_file(fake) == big
    # Held whole even once, the file alone would add 20 MiB; relayed, it adds a few
    # buffers of chunks.
    assert after - before < 8 * 1024, f"VmHWM grew by {after - before} KiB"
