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
