"""Upstream faults through the SDK, streamed and not, sync and async (over aiohttp and over
the lean transport): each gives the right typed error within the configured timeout and
leaves no connection or task behind."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import gatewise
from gatewise import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    InternalServerError,
    RateLimitError,
    ServiceUnavailableError,
)
from tests._net import refused_port, unanswered_port
from tests._transports import make_transport
from tests.fake_mistral import (
    BadEvent,
    CutStream,
    Delay,
    FakeMistral,
    Garbage,
    StallStream,
    Status,
)
from tests.sdk.conftest import HELLO, MODEL

FAST = {"timeout": 0.5, "num_retries": 0}


def call(mode: str, base: str, *, stream: bool, **kw: Any) -> None:
    """One call (tests expect it to raise, or not); afterwards no pooled connection is still
    in use and (async) no task is left running."""
    kw = {**FAST, **kw}
    if mode == "sync":
        client = gatewise.Client(api_key="test-key", api_base=base)
        try:
            result = client.completion(MODEL, HELLO, stream=stream, **kw)
            if stream:
                list(result)  # type: ignore[arg-type]
        finally:
            assert client.transport.connections_in_use() == 0
            client.close()
        return

    async def run() -> None:
        client = gatewise.AsyncClient(api_key="test-key", api_base=base, transport=(
            make_transport("lean") if mode == "lean" else None))
        try:
            result = await client.completion(MODEL, HELLO, stream=stream, **kw)
            if stream:
                async for _ in result:  # type: ignore[union-attr]
                    pass
        finally:
            await asyncio.sleep(0)  # let aiohttp settle released connections
            assert client.transport.connections_in_use() == 0
            assert asyncio.all_tasks() == {asyncio.current_task()}
            await client.aclose()
    asyncio.run(run())


MODES = pytest.mark.parametrize("mode", ["sync", "async", "lean"])
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])


@MODES
@STREAM
@pytest.mark.parametrize(("behavior", "error"), [
    (Status(429, headers={"Retry-After": "7"}), RateLimitError),
    (Status(429), RateLimitError),
    (Status(500), InternalServerError),
    (Status(502), InternalServerError),
    (Status(503), ServiceUnavailableError),
    (Status(504), InternalServerError),
    (Status(401), AuthenticationError),
    (Delay(3), APITimeoutError),
    (Garbage(b"\x00\xffnot json"), APIResponseValidationError),
    (Garbage(b'{"id": "abc", "choices": [{"mess'), APIResponseValidationError),
], ids=lambda v: type(v).__name__ if not isinstance(v, type) else v.__name__)
def test_fault_gives_typed_error(mode: str, stream: bool, behavior: Any, error: type[Exception],
                                 fake_mistral: FakeMistral) -> None:
    if stream and isinstance(behavior, Garbage):
        behavior = Garbage(behavior.body, content_type="text/event-stream")
        error = APIConnectionError  # no [DONE] ever comes
    fake_mistral.script(behavior)
    start = time.monotonic()
    with pytest.raises(error) as info:
        call(mode, fake_mistral.base_url, stream=stream)
    assert time.monotonic() - start < 2.5
    assert not getattr(info.value, "unsent", False)  # it reached the upstream


@MODES
@pytest.mark.parametrize(("behavior", "error"), [
    (CutStream(after_events=2), APIConnectionError),
    (CutStream(after_events=2, clean=True), APIConnectionError),
    (StallStream(after_events=2, seconds=3), APITimeoutError),
    (BadEvent(after_events=2), APIResponseValidationError),
], ids=["cut", "cut-clean", "stall", "bad-event"])
def test_mid_stream_fault_raises_never_ends_silently(mode: str, behavior: Any,
                                                     error: type[Exception],
                                                     fake_mistral: FakeMistral) -> None:
    fake_mistral.script(behavior)
    start = time.monotonic()
    with pytest.raises(error) as info:
        call(mode, fake_mistral.base_url, stream=True)
    assert time.monotonic() - start < 2.5
    assert not getattr(info.value, "unsent", False)


def test_retry_after_is_read_from_the_upstream(fake_mistral: FakeMistral) -> None:
    fake_mistral.script(Status(429, headers={"Retry-After": "7"}))
    with pytest.raises(RateLimitError) as info:
        call("sync", fake_mistral.base_url, stream=False)
    assert info.value.retry_after == 7


@MODES
@STREAM
def test_connection_refused(mode: str, stream: bool) -> None:
    with pytest.raises(APIConnectionError) as info:
        call(mode, f"http://127.0.0.1:{refused_port()}/v1", stream=stream)
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.unsent  # no connection: nothing reached the upstream


@MODES
@STREAM
def test_dns_failure(mode: str, stream: bool) -> None:
    with pytest.raises(APIConnectionError) as info:
        call(mode, "http://no-such-host.invalid/v1", stream=stream)
    assert info.value.unsent


@MODES
@STREAM
def test_connect_timeout(mode: str, stream: bool) -> None:
    with unanswered_port() as port:
        start = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            call(mode, f"http://127.0.0.1:{port}/v1", stream=stream, timeout=0.3)
        assert time.monotonic() - start < 2.5
    assert info.value.unsent


@MODES
@pytest.mark.parametrize("where", ["refused", "dns", "unanswered"])
def test_unsent_says_no_connection_was_opened(mode: str, where: str) -> None:
    with unanswered_port() as port:
        base = {"refused": f"http://127.0.0.1:{refused_port()}/v1",
                "dns": "http://no-such-host.invalid/v1",
                "unanswered": f"http://127.0.0.1:{port}/v1"}[where]
        with pytest.raises(APIConnectionError) as info:
            call(mode, base, stream=False, timeout=0.3)
    assert info.value.unsent


@MODES
@pytest.mark.parametrize(("behavior", "stream"), [
    (Delay(3), False), (CutStream(after_events=0), False), (CutStream(after_events=2), True),
    (StallStream(after_events=2, seconds=3), True)], ids=["delay", "cut", "cut-stream",
                                                          "stall-stream"])
def test_an_upstream_that_was_reached_is_not_unsent(mode: str, behavior: Any, stream: bool,
                                                    fake_mistral: FakeMistral) -> None:
    fake_mistral.script(behavior)
    with pytest.raises(APIConnectionError) as info:
        call(mode, fake_mistral.base_url, stream=stream)
    assert not info.value.unsent


@MODES
def test_retries_then_success_leave_nothing_behind(mode: str, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(Status(503), Status(429, headers={"Retry-After": "0"}))
    call(mode, fake_mistral.base_url, stream=False, num_retries=2)
    assert len(fake_mistral.requests) == 3
