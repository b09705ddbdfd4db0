"""Streams relayed by push, through the proxy's own server in process: from the second
block on, each upstream read is checked and written to the client from the upstream
connection's callback, with no wake-up of the relaying task per read
(``gatewise.proxy.sse``).  Everything arrives in order, with its usage, whether the client
keeps up or falls behind (its blocks then go the task's way until it catches up)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import openai
import orjson
import pytest

from gatewise._http._async import Events
from gatewise.proxy import sse
from gatewise.proxy.app import ProxyApp
from tests.fake_mistral import FakeMistral
from tests.http._upstreams import eventually
from tests.proxy._inprocess import post_head, serving
from tests.proxy.conftest import HELLO, make_app

WORDS = [f"w{n}" for n in range(60)]
BIG_WORDS = ["x" * 20_000 + str(n) for n in range(300)]  # 6 MB: more than buffers hold


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many upstream reads were pushed, and how many blocks the client's side refused
    (it was not keeping up)."""
    counted = {"pushed": 0, "refused": 0}
    take = Events._take
    emitter = sse._emitter

    def counting_take(self: Events[Any], chunk: bytes) -> bool:
        counted["pushed"] += 1
        return take(self, chunk)

    def counting_emitter(direct: Any, watch: Any) -> Callable[[bytes], bool]:
        emit = emitter(direct, watch)

        def counting_emit(block: bytes) -> bool:
            taken = emit(block)
            counted["refused"] += not taken
            return taken
        return counting_emit

    monkeypatch.setattr(Events, "_take", counting_take)
    monkeypatch.setattr(sse, "_emitter", counting_emitter)
    return counted


def app_for(fake: FakeMistral) -> ProxyApp:
    return make_app({"model_list": [{"model_name": "small", "litellm_params": {
        "model": "mistral/mistral-small-latest", "api_key": "test-key",
        "api_base": fake.base_url, "max_retries": 0}}]})


async def test_a_paced_stream_is_pushed_whole_and_in_order_with_its_usage(
        fake_mistral: FakeMistral, counts: dict[str, int]) -> None:
    fake_mistral.stream_delay = 0.002  # each event a read of its own
    fake_mistral.respond_with({"role": "assistant", "content": " ".join(WORDS)})
    async with serving(app_for(fake_mistral)) as port, openai.AsyncOpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="small", messages=HELLO, stream=True, stream_options={"include_usage": True})
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == " ".join(WORDS)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert counts["pushed"] >= len(WORDS) // 2  # most reads went the pushed way


def _unchunk(body: bytes) -> bytes:
    out: list[bytes] = []
    pos = 0
    while True:
        line_end = body.index(b"\r\n", pos)
        size = int(body[pos:line_end], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[line_end + 2:line_end + 2 + size])
        pos = line_end + 2 + size + 2


async def test_a_client_that_falls_behind_gets_every_block_in_order(
        fake_mistral: FakeMistral, counts: dict[str, int]) -> None:
    fake_mistral.respond_with({"role": "assistant", "content": " ".join(BIG_WORDS)})
    body = orjson.dumps({"model": "small", "messages": HELLO, "stream": True})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
    sock.setblocking(False)
    async with serving(app_for(fake_mistral)) as port:
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_connect(sock, ("127.0.0.1", port))
            await loop.sock_sendall(sock, post_head("/v1/chat/completions", len(body)) + body)
            # Reads nothing until the proxy has had to hold a pushed block back.
            await eventually(lambda: counts["refused"] > 0, within=10)
            answer = b""
            async with asyncio.timeout(20):
                while not answer.endswith(b"\r\n0\r\n\r\n"):
                    data = await loop.sock_recv(sock, 65536)
                    assert data, "the proxy closed the connection before the end"
                    answer += data
        finally:
            sock.close()
    head, _, raw = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    events = [line[6:] for line in _unchunk(raw).split(b"\n\n") if line]
    assert events[-1] == b"[DONE]"
    chunks = [orjson.loads(data) for data in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                   if c.get("choices"))
    assert text == " ".join(BIG_WORDS)
    assert counts["pushed"] > 0
