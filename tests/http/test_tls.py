"""TLS to an upstream, on every transport, against a local server whose certificate a test
CA made a moment ago: verified by default (the system's CA store does not know it: a clear
error), not verified with ``ssl_verify=False``, verified against a CA bundle given as
``ssl_verify=<path>``, and refused for a host the certificate does not name."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import gatewise
from gatewise._exceptions import APIConnectionError
from gatewise._http import Request, Timeout
from gatewise._http._async import AsyncTransport
from tests._transports import ASYNC_TRANSPORTS, make_transport
from tests.http._certs import Certificates, make_certificates
from tests.http._upstreams import Upstream, json_answer, upstream

TIMEOUT = Timeout(read=5, connect=5)
CHAT = (b'{"id":"c1","object":"chat.completion","created":1,"model":"mistral-small-latest",'
        b'"choices":[{"index":0,"message":{"role":"assistant","content":"over TLS"},'
        b'"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,'
        b'"total_tokens":3}}')


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def tls_upstream(certificates: Certificates) -> AsyncIterator[Upstream]:
    async with upstream(json_answer(CHAT), tls=certificates.server) as up:
        yield up


@pytest.fixture(params=ASYNC_TRANSPORTS)
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[AsyncTransport]:
    made = make_transport(request.param)
    yield made
    await made.aclose()


def by_ip(url: str) -> str:
    return url.replace("https://localhost:", "https://127.0.0.1:")


async def test_an_unknown_certificate_is_refused_by_default(transport: AsyncTransport,
                                                            tls_upstream: Upstream) -> None:
    with pytest.raises(APIConnectionError) as caught:
        await transport.request(Request("POST", tls_upstream.url, {}, b"{}"), TIMEOUT)
    message = str(caught.value)
    assert "certificate" in message and "ssl_verify" in message, message
    assert caught.value.unsent and tls_upstream.requests == []


async def test_verification_off_talks_to_anyone(transport: AsyncTransport,
                                                tls_upstream: Upstream) -> None:
    for url in (tls_upstream.url, by_ip(tls_upstream.url)):  # whatever the name
        response = await transport.request(Request("POST", url, {}, b"{}", False), TIMEOUT)
        assert (response.status, response.content) == (200, CHAT)


async def test_a_ca_bundle_is_trusted(transport: AsyncTransport, tls_upstream: Upstream,
                                      certificates: Certificates) -> None:
    request = Request("POST", tls_upstream.url, {}, b"{}", str(certificates.ca))
    for _ in range(2):
        assert (await transport.request(request, TIMEOUT)).content == CHAT
    stream = await transport.open_stream(request, TIMEOUT)
    assert await stream.aread() == CHAT
    stream.close()
    assert tls_upstream.connections == 1  # kept alive over TLS too


async def test_a_host_the_certificate_does_not_name_is_refused(
        transport: AsyncTransport, tls_upstream: Upstream, certificates: Certificates) -> None:
    with pytest.raises(APIConnectionError, match="certificate") as caught:
        await transport.request(Request("POST", by_ip(tls_upstream.url), {}, b"{}",
                                        str(certificates.ca)), TIMEOUT)
    assert "127.0.0.1" in str(caught.value) and caught.value.unsent


async def test_a_missing_ca_bundle_says_so(transport: AsyncTransport,
                                           tls_upstream: Upstream, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(APIConnectionError, match=r"nope\.pem"):
        await transport.request(Request("POST", tls_upstream.url, {}, b"{}", missing),
                                TIMEOUT)


# -- through the clients: ssl_verify as a client default and as a call option -------------

@pytest.fixture
def threaded_upstream(certificates: Certificates) -> Iterator[str]:
    """The TLS upstream on a loop of its own (for the blocking client)."""
    loop = asyncio.new_event_loop()
    started: asyncio.Future[str] = loop.create_future()
    stop = asyncio.Event()

    async def serve() -> None:
        async with upstream(json_answer(CHAT), tls=certificates.server) as up:
            started.set_result(up.url.removesuffix("/chat/completions"))
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    base = asyncio.run_coroutine_threadsafe(_result(started), loop).result(5)
    yield base
    loop.call_soon_threadsafe(stop.set)
    thread.join(5)


async def _result(future: asyncio.Future[str]) -> str:
    return await future


MODEL = "mistral/mistral-small-latest"
HELLO = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("mode", ["sync", "async", "lean"])
def test_clients_take_ssl_verify(mode: str, threaded_upstream: str,
                                 certificates: Certificates) -> None:
    base = {"api_key": "k", "api_base": threaded_upstream, "num_retries": 0}
    ca = str(certificates.ca)
    if mode == "sync":
        with gatewise.Client(**base, ssl_verify=ca) as client:
            assert client.completion(MODEL, HELLO).choices[0].message.content == "over TLS"
            with pytest.raises(APIConnectionError, match="certificate"):
                client.completion(MODEL, HELLO, ssl_verify=True)
            assert client.completion(MODEL, HELLO, ssl_verify=False).usage.total_tokens == 3
        return

    async def run() -> None:
        transport = make_transport("lean") if mode == "lean" else None
        async with gatewise.AsyncClient(**base, ssl_verify=ca, transport=transport) as client:
            answer = await client.completion(MODEL, HELLO)
            assert answer.choices[0].message.content == "over TLS"  # type: ignore[union-attr]
            with pytest.raises(APIConnectionError, match="certificate"):
                await client.completion(MODEL, HELLO, ssl_verify=True)
            assert await client.completion(MODEL, HELLO, ssl_verify=False)
    asyncio.run(run())
