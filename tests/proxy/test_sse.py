"""The SSE relay's watcher (client gone / client stalled) never outlives its stream."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gatewise._streaming import AsyncStream, aiter_list, same
from gatewise.proxy.sse import relay
from tests.proxy.conftest import make_app


async def test_the_watcher_stops_even_when_the_last_send_fails() -> None:
    app = make_app({"model_list": [{"model_name": "demo", "params": {
        "model": "mistral/mistral-small-latest", "mock_response": "x"}}]})
    deployment = app.state.deployments[0]
    never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def receive() -> dict[str, Any]:
        return await never  # type: ignore[no-any-return]

    async def send(message: dict[str, Any]) -> None:
        if message.get("more_body") is False:
            raise RuntimeError("the connection is gone")

    stream = AsyncStream(aiter_list([b'data: {"a":1}\n\n']), same)
    before = asyncio.all_tasks()
    with pytest.raises(RuntimeError, match="the connection is gone"):
        await relay(stream, receive, send, [], deployment, b"c" * 32, client_timeout=30.0)
    await asyncio.sleep(0)  # let the cancelled listener finish
    assert asyncio.all_tasks() == before  # the listening task is gone
    never.cancel()


def _app_deployment() -> Any:
    app = make_app({"model_list": [{"model_name": "demo", "params": {
        "model": "mistral/mistral-small-latest", "mock_response": "x"}}]})
    return app.state.deployments[0]


async def test_a_stream_all_in_is_relayed_without_a_listening_task() -> None:
    sent: list[dict[str, Any]] = []
    tasks: set[asyncio.Task[Any]] = set()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        tasks.update(asyncio.all_tasks())

    async def receive() -> dict[str, Any]:
        raise AssertionError("nothing to wait for")

    stream = AsyncStream(aiter_list([b'data: {"a":1}\n\n', b'data: {"a":2}\n\n']), same)
    before = asyncio.all_tasks()
    await relay(stream, receive, send, [], _app_deployment(), b"c" * 32, client_timeout=30.0)
    assert tasks == before  # no task was made while relaying
    assert [m.get("body") for m in sent[1:]] == [b'data: {"a":1}\n\n', b'data: {"a":2}\n\n',
                                                 b"data: [DONE]\n\n"]


async def test_a_relay_that_waits_is_cancelled_when_its_client_leaves() -> None:
    upstream_closed = asyncio.Event()
    gone = asyncio.Event()

    async def blocks() -> Any:
        try:
            yield b'data: {"a":1}\n\n'
            await asyncio.get_running_loop().create_future()  # the upstream says no more
        finally:
            upstream_closed.set()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if len(sent) == 2:
            gone.set()  # the client leaves after the first events

    stream = AsyncStream(blocks(), same)
    await asyncio.wait_for(relay(stream, receive, send, [], _app_deployment(), b"c" * 32,
                                 client_timeout=30.0), 5)
    assert upstream_closed.is_set()
    assert len(sent) == 2  # no last event: nobody is there to read it
