"""A fixed-answer Mistral upstream that is never the bottleneck.

A raw asyncio protocol (no framework): every POST to ``/v1/chat/completions`` gets the
recorded answer in ``data/chat.json`` (or a recorded-shape SSE stream of ``--events``
events when the body asks for ``"stream": true``), ``/v1/embeddings`` a fixed vector.
Run: ``python -m bench.upstream --port 8090``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

DATA = Path(__file__).parent / "data"


def _http(body: bytes, content_type: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type +
            b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def stream_body(events: int) -> bytes:
    head = {"id": "b3999b8c4d2a4d2e9c7f0e5a1b2c3d4e", "object": "chat.completion.chunk",
            "created": 1769088854, "model": "mistral-small-latest"}
    parts = [{**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                   "finish_reason": None}]}]
    parts += [{**head, "choices": [{"index": 0, "delta": {"content": f" word{i}"},
                                    "finish_reason": None}]} for i in range(events - 2)]
    parts.append({**head, "choices": [{"index": 0, "delta": {"content": ""},
                                       "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 10, "total_tokens": 10 + events,
                            "completion_tokens": events}})
    text = "".join(f"data: {json.dumps(p, separators=(',', ':'))}\n\n" for p in parts)
    return (text + "data: [DONE]\n\n").encode()


class Upstream(asyncio.Protocol):
    def __init__(self, chat: bytes, stream: bytes, embed: bytes) -> None:
        self.chat, self.stream, self.embed = chat, stream, embed
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            for line in head.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line[15:])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            assert self.transport is not None
            if b"/embeddings" in head.split(b"\r\n", 1)[0]:
                self.transport.write(self.embed)
            elif b'"stream":true' in body.replace(b" ", b""):
                self.transport.write(self.stream)
            else:
                self.transport.write(self.chat)


async def serve(host: str, port: int, events: int) -> None:
    chat = _http((DATA / "chat.json").read_bytes().strip(), b"application/json")
    stream = _http(stream_body(events), b"text/event-stream; charset=utf-8")
    embed = _http(json.dumps({
        "id": "e", "object": "list", "model": "mistral-embed",
        "data": [{"object": "embedding", "embedding": [0.0] * 1024, "index": 0}],
        "usage": {"prompt_tokens": 3, "total_tokens": 3, "completion_tokens": 0},
    }).encode(), b"application/json")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Upstream(chat, stream, embed), host, port,
                                      backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.events))


if __name__ == "__main__":
    main()
