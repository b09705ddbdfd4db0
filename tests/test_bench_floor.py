"""The benchmark's floor (``bench/floor.py``) does the proxy's per-request work for real: its
request passes the strict fake Mistral server's schema check and its answer is OpenAI's,
priced; a wrong key is refused."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._net import free_port
from tests.fake_mistral import FakeMistral
from tests.fake_mistral.server import DEFAULT_API_KEY

ROOT = Path(__file__).parent.parent
KEY = "sk-floor-test"
BODY = {"model": "bench-chat", "max_tokens": 16, "temperature": 0.2,
        "messages": [{"role": "system", "content": "Be terse."},
                     {"role": "user", "content": "Say OK."}]}


def _post(port: int, key: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions", data=json.dumps(BODY).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def floor(fake_mistral: FakeMistral) -> Iterator[int]:
    port = free_port()
    upstream = fake_mistral.base_url.removesuffix("/v1")
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.floor", "--port", str(port), "--upstream", upstream,
         "--key", KEY, "--upstream-key", DEFAULT_API_KEY], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health/readiness", timeout=1)
                break
            except OSError:
                assert process.poll() is None, "the floor exited"
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def test_floor_answers_a_translated_priced_chat(floor: int, fake_mistral: FakeMistral
                                                ) -> None:
    fake_mistral.respond_with({"role": "assistant", "content": "OK"})
    status, headers, body = _post(floor, KEY)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "OK"
    assert answer["usage"]["total_tokens"] > 0
    assert float(headers["x-gatewise-response-cost"]) > 0
    assert len(headers["x-gatewise-call-id"]) == 32


def test_floor_refuses_a_wrong_key(floor: int) -> None:
    status, _, _ = _post(floor, "sk-wrong")
    assert status == 401
