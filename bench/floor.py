"""The floor of gatewise's own work: the raw-asyncio ceiling's plumbing (``bench/ceiling.py``:
callbacks, one ``write()`` an answer) doing the per-request work the proxy cannot skip for
a non-streaming chat request -- the master key checked in constant time, the body parsed
and its messages checked, the OpenAI request translated into Mistral's (gatewise's own
``prepare_chat``: parameters, messages, the encoded body), the answer parsed and translated
back, its cost priced from the packaged catalogue, and the answer sent with gatewise's
metadata headers (call id, deployment, cost, overhead).

What it leaves out: routing among deployments, retries and timeouts, the request's record
and its sinks, the server's guards (head and body limits, slow clients, drain).  So it is
what a request path with no layers between the server and the upstream would cost: how
far the proxy's layering is from its own floor (``--servers floor``; streams and
embeddings are relayed as the ceiling relays them).

Run: ``python -m bench.floor --port 8100 --upstream http://127.0.0.1:8090``
"""

from __future__ import annotations

import hmac
import itertools
import time
from collections.abc import Mapping
from functools import partial
from typing import Any

import orjson

from bench.ceiling import Ceiling, Client, serve
from bench.reference import arguments
from gatewise import AsyncClient
from gatewise._prepare import Call, prepare_chat
from gatewise.catalogue.cost import cost_for_usage
from gatewise.proxy.routes.chat import check_messages

MODEL = "mistral/mistral-small-latest"  # what the proxy's bench-chat deployments serve
_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-gatewise-call-id: %b\r\n"
         b"x-gatewise-model-id: chat-a\r\nx-gatewise-response-cost: %b\r\n"
         b"x-gatewise-overhead-ms: %b\r\ncontent-length: %d\r\n\r\n")


class FloorClient(Client):
    """A client connection that answers a chat request with the translated answer."""

    def __init__(self, app: Ceiling) -> None:
        super().__init__(app)
        self.call: Call | None = None
        self.started = 0.0

    def next(self) -> None:
        # The ceiling compares keys with ==; the proxy (and so the floor) in constant time.
        while self.queue:
            url, key, _ = self.queue[0]
            if url != b"/health/readiness" and not hmac.compare_digest(
                    key or b"", self.app.expected):
                self.queue.popleft()
                self.write(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n")
                continue
            super().next()
            return

    def answer(self, status: int, body: bytes) -> bytes:
        call, self.call = self.call, None
        if call is None or status != 200:
            return super().answer(status, body)
        response = call.adapter.parse_chat_response(orjson.loads(body), model=call.model_id,
                                                    model_info=call.info)
        cost = cost_for_usage(call.info, response["usage"]) or 0.0
        payload = orjson.dumps(response)
        assert isinstance(self.app, Floor)
        overhead = (time.perf_counter() - self.started) * 1000
        return _HEAD % (b"%032x" % next(self.app.calls), b"%.12g" % cost,
                        b"%.3f" % overhead, len(payload)) + payload


class Floor(Ceiling):
    def __init__(self, upstream: str, key: str, upstream_key: str = "upstream-key-a") -> None:
        super().__init__(upstream, key)
        self.sdk = AsyncClient(api_key=upstream_key, api_base=f"{upstream}/v1")
        self.calls = itertools.count(1)
        # A deployment's request headers, encoded once (as the proxy's transport does).
        self.fields: dict[int, bytes] = {}

    def _fields(self, headers: Mapping[str, str]) -> bytes:
        fields = self.fields.get(id(headers))
        if fields is None:
            fields = self.fields[id(headers)] = b"".join(
                b"%b: %b\r\n" % (k.encode(), v.encode()) for k, v in headers.items()
                if k.lower() not in ("host", "content-length"))
        return fields

    def forward(self, url: bytes, body: bytes, client: Client) -> None:
        if not url.endswith(b"/chat/completions") or b'"stream":true' in body:
            super().forward(url, body, client)
            return
        assert isinstance(client, FloorClient)
        client.started = time.perf_counter()
        params: dict[str, Any] = orjson.loads(body)
        params.pop("model", None)
        messages = check_messages(params.pop("messages", None))
        call = prepare_chat(self.sdk._settings, self.sdk.catalogue, MODEL, messages, params,
                            self.sdk._targets)
        assert call.request is not None and isinstance(call.request.content, bytes)
        client.call = call
        self.pool.send(b"/v1/chat/completions", call.request.content, False, client,
                       self._fields(call.request.headers))


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--upstream-key", default="upstream-key-a")
    args = parser.parse_args()
    import uvloop

    floor = partial(Floor, upstream_key=args.upstream_key)
    uvloop.run(serve(args.host, args.port, args.upstream, args.key, floor, FloorClient))


if __name__ == "__main__":
    main()
