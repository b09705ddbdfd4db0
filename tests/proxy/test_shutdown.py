"""Graceful shutdown of the real CLI: SIGTERM stops new connections at once, lets the
requests and streams in flight finish within ``general_settings.graceful_shutdown_timeout``
and exits 0; what is still running when that period ends is answered with an error (a 503,
or a final SSE ``error`` event), never cut silently."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.fake_mistral import Delay, FakeMistral
from tests.proxy._checks import final_error_event, openai_error, sse_data
from tests.proxy._server import Proxy, run_proxy_with
from tests.proxy.conftest import HELLO

CHAT = "/v1/chat/completions"


@contextmanager
def proxy_with_grace(fake: FakeMistral, workdir: Path, grace: float) -> Iterator[Proxy]:
    config = {"model_list": [{"model_name": "small", "litellm_params": {
        "model": "mistral/mistral-small-latest", "api_key": "test-key",
        "api_base": fake.base_url, "max_retries": 0}}],
        "general_settings": {"graceful_shutdown_timeout": grace}}
    with run_proxy_with(config, workdir) as proxy:
        yield proxy


def _stream(proxy: Proxy, first_chunk: Future[float]) -> bytes:
    body = {"model": "small", "messages": HELLO, "stream": True}
    received = b""
    with httpx.stream("POST", proxy.url + CHAT, json=body, timeout=10) as answer:
        assert answer.status_code == 200
        for piece in answer.iter_raw():
            if not received:
                first_chunk.set_result(time.monotonic())
            received += piece
    return received


def _plain(proxy: Proxy) -> httpx.Response:
    return httpx.post(proxy.url + CHAT, json={"model": "small", "messages": HELLO}, timeout=10)


def _refuses_connections(proxy: Proxy, within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", proxy.port), timeout=0.5).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.02)
    return False


def _start_both(proxy: Proxy, fake: FakeMistral, pool: ThreadPoolExecutor
                ) -> tuple[Future[httpx.Response], Future[bytes]]:
    """A plain request the fake holds (``Delay``), then a stream it sends slowly; returns
    once both are under way."""
    plain = pool.submit(_plain, proxy)
    deadline = time.monotonic() + 5
    while not fake.requests:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    first: Future[float] = Future()
    stream = pool.submit(_stream, proxy, first)
    first.result(timeout=5)
    return plain, stream


def test_sigterm_lets_requests_in_flight_finish_then_exits_0(
        fake_mistral: FakeMistral, tmp_path: Path) -> None:
    fake_mistral.stream_delay = 0.15  # the stream takes about 1.2 s
    fake_mistral.script(Delay(1.0))
    with proxy_with_grace(fake_mistral, tmp_path, grace=5) as proxy, \
            ThreadPoolExecutor(2) as pool:
        plain, stream = _start_both(proxy, fake_mistral, pool)
        sent = time.monotonic()
        proxy.process.send_signal(signal.SIGTERM)
        assert _refuses_connections(proxy), "new connections must be refused at once"
        assert not stream.done() and not plain.done()

        data = sse_data(stream.result(timeout=10))
        assert data[-1] == b"[DONE]" and len(data) > 5
        answer = plain.result(timeout=10)
        assert answer.status_code == 200
        assert answer.json()["choices"][0]["message"]["content"]

        assert proxy.process.wait(timeout=5) == 0
        assert time.monotonic() - sent < 5, "the proxy must not wait for its whole grace"
    assert "Traceback" not in proxy.output()


def test_what_outlives_the_grace_period_is_answered_with_an_error(
        fake_mistral: FakeMistral, tmp_path: Path) -> None:
    fake_mistral.stream_delay = 0.3  # the stream takes about 2.5 s
    fake_mistral.script(Delay(5.0))
    with proxy_with_grace(fake_mistral, tmp_path, grace=0.5) as proxy, \
            ThreadPoolExecutor(2) as pool:
        plain, stream = _start_both(proxy, fake_mistral, pool)
        sent = time.monotonic()
        proxy.process.send_signal(signal.SIGTERM)

        body = stream.result(timeout=10)
        error = final_error_event(body)
        assert error["code"] == "server_shutting_down"
        assert len(sse_data(body)) >= 2  # chunks, then the error
        answer = plain.result(timeout=10)
        assert answer.status_code == 503
        assert openai_error(answer.content)["code"] == "server_shutting_down"

        assert proxy.process.wait(timeout=5) == 0
        assert time.monotonic() - sent < 3
    output = proxy.output()
    assert "Traceback" not in output
    assert "Exception in ASGI application" not in output


@pytest.fixture(autouse=True)
def _no_leftover_delay(fake_mistral: FakeMistral) -> Iterator[None]:
    yield
    fake_mistral.reset()
