"""Upstream faults through the real proxy (the CLI in a subprocess), streamed and not.

Each fault gives the status and OpenAI error body a client can act on -- or, once a stream
has started, a final SSE ``error`` event that makes the ``openai`` package raise -- within
the configured timeout (``settings.request_timeout: 0.5`` here), retried and fallen back
only as configured, and leaves nothing in flight (``/health``).  An in-process pass checks
that no upstream connection and no task is left behind either.  Everything runs on both
upstream transports (``general_settings.upstream_transport``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from gatewise.proxy.app import ProxyApp
from gatewise.proxy.config import DEFAULT_REQUEST_TIMEOUT
from tests._net import refused_port, unanswered_port
from tests._transports import ASYNC_TRANSPORTS
from tests.fake_mistral import (
    BadEvent,
    Behavior,
    CutStream,
    Delay,
    FakeMistral,
    Garbage,
    Normal,
    StallStream,
    Status,
)
from tests.proxy._checks import (
    assert_nothing_in_flight,
    final_error_event,
    openai_error,
    sse_data,
)
from tests.proxy._server import Proxy, client, run_proxy_with
from tests.proxy.conftest import HELLO, call, make_app

TIMEOUT = 0.5  # settings.request_timeout of the proxy under test
PROMPTLY = TIMEOUT + 1.5  # the answer's bound: the timeout, plus room for a busy machine
SMALL = "mistral/mistral-small-latest"


def config(fake: str, refused: str, unanswered: str, transport: str = "lean"
           ) -> dict[str, Any]:
    def entry(name: str, base: str, **params: Any) -> dict[str, Any]:
        return {"model_name": name, "litellm_params": {
            "model": SMALL, "api_key": "test-key", "api_base": base, **params}}

    return {
        "model_list": [
            entry("small", fake),
            entry("retrying", fake, max_retries=2),
            entry("flaky", fake),
            {"model_name": "backup", "params": {"model": SMALL,
                                                "mock_response": "from the backup"}},
            entry("refused", refused),
            entry("nxdomain", "http://no-such-host.invalid/v1"),
            entry("unanswered", unanswered),
        ],
        "settings": {"request_timeout": TIMEOUT, "num_retries": 0},
        "router_settings": {"fallbacks": [{"flaky": ["backup"]}], "retry_backoff": 0.01},
        "general_settings": {"upstream_transport": transport},
    }


@pytest.fixture(scope="module", params=ASYNC_TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def proxy(_fake_server: FakeMistral, tmp_path_factory: pytest.TempPathFactory,
          transport: str) -> Iterator[Proxy]:
    workdir = tmp_path_factory.mktemp("faults")
    with unanswered_port() as port:
        data = config(_fake_server.base_url, f"http://127.0.0.1:{refused_port()}/v1",
                      f"http://127.0.0.1:{port}/v1", transport)
        with run_proxy_with(data, workdir) as server:
            yield server


@pytest.fixture
def faults(proxy: Proxy, fake_mistral: FakeMistral) -> Iterator[Proxy]:
    """The proxy, with the fake reset; afterwards nothing may be left in flight."""
    yield proxy
    assert_nothing_in_flight(proxy)


def post(proxy: Proxy, model: str = "small", *, stream: bool = False
         ) -> tuple[httpx.Response, float]:
    body = {"model": model, "messages": HELLO, "stream": stream}
    start = time.monotonic()
    answer = httpx.post(proxy.url + "/v1/chat/completions", json=body, timeout=10)
    return answer, time.monotonic() - start


STREAM = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])


# -- an error status from the upstream: the same status, in OpenAI's shape -------------------

@STREAM
@pytest.mark.parametrize(("behavior", "status", "kind"), [
    (Status(429, headers={"Retry-After": "7"}), 429, "rate_limit_error"),
    (Status(429), 429, "rate_limit_error"),
    (Status(500), 500, "api_error"),
    (Status(502), 502, "api_error"),
    (Status(503), 503, "api_error"),
    (Status(504), 504, "api_error"),
    (Status(401), 401, "authentication_error"),
], ids=["429-retry-after", "429", "500", "502", "503", "504", "401"])
def test_upstream_status(faults: Proxy, fake_mistral: FakeMistral, stream: bool,
                         behavior: Status, status: int, kind: str) -> None:
    fake_mistral.script(behavior)
    answer, took = post(faults, stream=stream)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    error = openai_error(answer.content)
    assert error["type"] == kind
    assert len(fake_mistral.requests) == 1, "no retries were configured"
    assert took < PROMPTLY
    assert answer.headers["x-gatewise-model-id"] == "small#0"
    if behavior.headers:
        assert answer.headers["retry-after"] == "7"
    else:
        assert "retry-after" not in answer.headers
    if status == 401:  # about the deployment's key, not the client's
        assert error["code"] == "upstream_authentication_error"
        assert "test-key" not in answer.text


def test_openai_raises_the_matching_error(faults: Proxy, fake_mistral: FakeMistral) -> None:
    api = client(faults)
    cases: list[tuple[Behavior, type[openai.APIError]]] = [
        (Status(429), openai.RateLimitError),
        (Status(503), openai.InternalServerError),
        (Status(401), openai.AuthenticationError),
        (Delay(3), openai.InternalServerError)]  # 504
    for behavior, error in cases:
        fake_mistral.script(behavior)
        with pytest.raises(error):
            api.chat.completions.create(model="small", messages=HELLO)


# -- no answer, or no upstream at all --------------------------------------------------------

@STREAM
@pytest.mark.parametrize(("model", "behavior", "status", "kind"), [
    ("small", Delay(3), 504, "timeout"),                      # read timeout
    ("unanswered", None, 504, "timeout"),                     # connect timeout
    ("refused", None, 502, "api_connection_error"),           # connection refused
    ("nxdomain", None, 502, "api_connection_error"),          # DNS failure
    ("small", CutStream(after_events=0), 502, "api_connection_error"),  # hung up at once
], ids=["read-timeout", "connect-timeout", "refused", "dns", "hang-up"])
def test_unreachable_or_silent_upstream(faults: Proxy, fake_mistral: FakeMistral, stream: bool,
                                        model: str, behavior: Behavior | None, status: int,
                                        kind: str) -> None:
    if behavior is not None:
        fake_mistral.script(behavior)
    answer, took = post(faults, model, stream=stream)
    assert answer.status_code == status
    assert openai_error(answer.content)["type"] == kind
    assert took < PROMPTLY
    if model == "small":
        assert len(fake_mistral.requests) == 1, "no retries were configured"


# -- a 200 the proxy cannot read ------------------------------------------------------------

@pytest.mark.parametrize(("stream", "behavior"), [
    (False, Garbage(b"\x00\xffnot json")),
    (False, Garbage(b'{"id": "abc", "choices": [{"mess')),  # truncated
    (True, Garbage(b"\x00\xffnot json", content_type="text/event-stream")),
    (True, Garbage(b'data: {"id": "abc", "choices": [{"mess', content_type="text/event-stream")),
    (True, BadEvent(after_events=0)),  # the very first event is not JSON
], ids=["garbage", "truncated", "stream-garbage", "stream-truncated", "stream-bad-first-event"])
def test_unreadable_answer_is_502(faults: Proxy, fake_mistral: FakeMistral, stream: bool,
                                  behavior: Behavior) -> None:
    fake_mistral.script(behavior)
    answer, took = post(faults, stream=stream)
    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/json"  # nothing streamed yet
    openai_error(answer.content)
    assert took < PROMPTLY


# -- once a stream has started: a final SSE error event, never a silent end ------------------

MID_STREAM = pytest.mark.parametrize(("behavior", "kind"), [
    (CutStream(after_events=2), "api_connection_error"),
    (CutStream(after_events=2, clean=True), "api_connection_error"),
    (StallStream(after_events=2, seconds=5), "timeout"),
    (BadEvent(after_events=2), "api_error"),
], ids=["cut", "cut-clean", "stall", "bad-event"])


@MID_STREAM
def test_mid_stream_fault_is_a_final_error_event(faults: Proxy, fake_mistral: FakeMistral,
                                                 behavior: Behavior, kind: str) -> None:
    fake_mistral.script(behavior)
    answer, took = post(faults, stream=True)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    chunks = sse_data(answer.content)[:-1]
    assert len(chunks) == 2 and all(json.loads(c)["object"] == "chat.completion.chunk"
                                    for c in chunks)
    assert final_error_event(answer.content)["type"] == kind
    assert took < PROMPTLY  # a stall ends after the stream's idle timeout


@MID_STREAM
def test_mid_stream_fault_makes_openai_raise(faults: Proxy, fake_mistral: FakeMistral,
                                             behavior: Behavior, kind: str) -> None:
    fake_mistral.script(behavior)
    received: list[Any] = []
    stream = client(faults).chat.completions.create(model="small", messages=HELLO, stream=True)
    with pytest.raises(openai.APIError) as info:
        received.extend(stream)
    assert len(received) == 2
    assert info.value.type == kind


# -- retries and fallbacks, exactly as configured ---------------------------------------------

@STREAM
def test_retries_as_configured(faults: Proxy, fake_mistral: FakeMistral, stream: bool) -> None:
    fake_mistral.script(Status(503), Status(503), Status(503))
    answer, _ = post(faults, "retrying", stream=stream)
    assert answer.status_code == 503
    openai_error(answer.content)
    assert len(fake_mistral.requests) == 3  # max_retries: 2
    assert answer.headers["x-gatewise-attempted-retries"] == "2"

    fake_mistral.reset()
    fake_mistral.script(Status(503), Delay(3), Normal())  # a timeout is retried too
    answer, took = post(faults, "retrying", stream=stream)
    assert answer.status_code == 200
    assert len(fake_mistral.requests) == 3
    assert answer.headers["x-gatewise-attempted-retries"] == "2"
    assert took < TIMEOUT * 2 + 1.0


@STREAM
def test_fallback_as_configured(faults: Proxy, fake_mistral: FakeMistral, stream: bool) -> None:
    fake_mistral.script(Status(500))
    answer, _ = post(faults, "flaky", stream=stream)
    assert answer.status_code == 200
    assert len(fake_mistral.requests) == 1  # flaky has no retries: straight to the backup
    assert answer.headers["x-gatewise-model-id"] == "backup#0"
    assert answer.headers["x-gatewise-attempted-fallbacks"] == "1"
    if stream:
        chunks = [json.loads(d) for d in sse_data(answer.content)[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content") or ""
                       for c in chunks if c["choices"])
    else:
        text = answer.json()["choices"][0]["message"]["content"]
    assert text == "from the backup"


def test_a_request_error_is_not_retried(faults: Proxy, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(Status(400))
    answer, _ = post(faults, "retrying")
    assert answer.status_code == 400
    openai_error(answer.content)
    assert len(fake_mistral.requests) == 1


# -- in process: no upstream connection, no task left behind ---------------------------------

@pytest.fixture
async def app(fake_mistral: FakeMistral, transport: str) -> Any:
    with unanswered_port() as port:
        app = make_app(config(fake_mistral.base_url, f"http://127.0.0.1:{refused_port()}/v1",
                              f"http://127.0.0.1:{port}/v1", transport))
        yield app
        await app.state.aclose()


async def _leftovers(app: ProxyApp) -> tuple[int, set[asyncio.Task[Any]]]:
    for _ in range(5):  # let the transport settle released connections
        await asyncio.sleep(0)
    return (app.state.client.transport.connections_in_use(),
            asyncio.all_tasks() - {asyncio.current_task()})


@STREAM
@pytest.mark.parametrize(("model", "behavior"), [
    ("small", Status(503)), ("small", Delay(3)), ("small", Garbage(b"{")),
    ("small", CutStream(after_events=2)), ("small", StallStream(after_events=2, seconds=5)),
    ("small", BadEvent(after_events=2)), ("refused", None), ("unanswered", None),
    ("retrying", Status(429, headers={"Retry-After": "0"})), ("flaky", Status(502)),
], ids=["503", "delay", "garbage", "cut", "stall", "bad-event", "refused", "unanswered",
        "retried", "fallback"])
async def test_nothing_is_left_behind(app: ProxyApp, fake_mistral: FakeMistral, stream: bool,
                                      model: str, behavior: Behavior | None) -> None:
    if behavior is not None:
        fake_mistral.script(behavior)
    start = time.monotonic()
    answer = await call(app, "POST", "/v1/chat/completions",
                        {"model": model, "messages": HELLO, "stream": stream})
    assert time.monotonic() - start < PROMPTLY
    if answer.status != 200:
        answer.error()
    elif answer.headers["content-type"].startswith("text/event-stream"):
        data = sse_data(answer.body)
        assert data[-1] == b"[DONE]" or final_error_event(answer.body)
    assert await _leftovers(app) == (0, set())
    health = await app.state.router.ahealth()
    assert {h.id: h.in_flight for h in health if h.in_flight} == {}


# -- timeouts: a default deadline, and a stream's idle timeout ---------------------------------

def test_every_call_has_a_deadline_by_default(fake_mistral: FakeMistral) -> None:
    app = make_app({"model_list": [{"model_name": "small", "litellm_params": {
        "model": SMALL, "api_key": "test-key", "api_base": fake_mistral.base_url}}]})
    assert app.state.router.timeout == DEFAULT_REQUEST_TIMEOUT == 600


async def test_stream_timeout_is_the_streams_idle_timeout(fake_mistral: FakeMistral,
                                                          transport: str) -> None:
    """``router_settings.stream_timeout`` bounds every silence of a stream (not only the wait
    for its first chunk), apart from ``settings.request_timeout``."""
    app = make_app({
        "model_list": [{"model_name": "small", "litellm_params": {
            "model": SMALL, "api_key": "test-key", "api_base": fake_mistral.base_url}}],
        "settings": {"request_timeout": 5, "num_retries": 0},
        "router_settings": {"stream_timeout": 0.3},
        "general_settings": {"upstream_transport": transport}})
    try:
        fake_mistral.script(StallStream(after_events=3, seconds=5))
        start = time.monotonic()
        answer = await call(app, "POST", "/v1/chat/completions",
                            {"model": "small", "messages": HELLO, "stream": True})
        assert 0.25 < time.monotonic() - start < 1.5
        assert final_error_event(answer.body)["type"] == "timeout"
        assert len(sse_data(answer.body)) == 4  # three chunks, then the error

        fake_mistral.script(Delay(1))  # a plain call has the whole request_timeout
        answer = await call(app, "POST", "/v1/chat/completions",
                            {"model": "small", "messages": HELLO})
        assert answer.status == 200
    finally:
        await app.state.aclose()
