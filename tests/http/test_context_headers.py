"""A request's context headers (a trace's ``traceparent``, different for every call) go on
the wire with it -- on every transport, after the kept head on the lean one, replacing a
header of the same name -- and never into the heads the lean transport keeps; ``send``
takes them from ``CONTEXT_HEADERS``."""

from __future__ import annotations

import pytest

from gatewise._exceptions import APIConnectionError
from gatewise._http import Request, RetryPolicy, Timeout, _async
from gatewise._http._aiohttp import AiohttpTransport
from gatewise._http._h1 import LeanTransport
from gatewise._http._propagate import CONTEXT_HEADERS
from tests.http._upstreams import Exchange, json_answer, upstream

TIMEOUT = Timeout(read=5, connect=5)


def _headers(exchange: Exchange, name: bytes) -> list[bytes]:
    return [line.partition(b":")[2].strip() for line in exchange.head.split(b"\r\n")[1:]
            if line.partition(b":")[0].strip().lower() == name]


@pytest.mark.parametrize("transport", [LeanTransport, AiohttpTransport])
async def test_context_headers_go_with_their_request_only(transport: type) -> None:
    client = transport()
    async with upstream(json_answer()) as up:
        base = Request("POST", up.url, {"Content-Type": "application/json"}, b"{}")
        for n in range(3):
            request = base._replace(context_headers=(("traceparent", f"00-{n:032x}-x-01"),))
            await client.request(request, TIMEOUT)
        await client.request(base, TIMEOUT)
        replaced = Request("POST", up.url, {"traceparent": "mine", "X": "1"}, b"{}",
                           context_headers=(("traceparent", "theirs"),))
        await client.request(replaced, TIMEOUT)
        seen = [_headers(e, b"traceparent") for e in up.requests]
    assert seen == [[f"00-{n:032x}-x-01".encode()] for n in range(3)] + [[], [b"theirs"]]
    if isinstance(client, LeanTransport):
        kept = [head for head, _ in client._heads.values()]
        assert len(kept) == 2 and not any(b"00-000" in h or b"theirs" in h for h in kept)
    await client.aclose()


async def test_a_line_break_in_a_context_header_is_refused() -> None:
    client = LeanTransport()
    async with upstream(json_answer()) as up:
        request = Request("POST", up.url, {}, b"{}",
                          context_headers=(("traceparent", "x\r\nInjected: 1"),))
        with pytest.raises(APIConnectionError):
            await client.request(request, TIMEOUT)
    await client.aclose()


async def test_send_takes_them_from_the_context() -> None:
    client = LeanTransport()
    async with upstream(json_answer()) as up:
        token = CONTEXT_HEADERS.set((("traceparent", "from-the-context"),))
        try:
            await _async.send(client, Request("POST", up.url, {}, b"{}"), timeout=TIMEOUT,
                              policy=RetryPolicy(num_retries=0), error_for=None,  # type: ignore[arg-type]
                              provider="p", model="m")
        finally:
            CONTEXT_HEADERS.reset(token)
        await _async.send(client, Request("POST", up.url, {}, b"{}"), timeout=TIMEOUT,
                          policy=RetryPolicy(num_retries=0), error_for=None,  # type: ignore[arg-type]
                          provider="p", model="m")
        seen = [_headers(e, b"traceparent") for e in up.requests]
    assert seen == [[b"from-the-context"], []]
    await client.aclose()
