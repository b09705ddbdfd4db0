"""The asyncio transports the transport-level tests run against: aiohttp (the SDK's
default) and the lean one (the proxy's default)."""

from __future__ import annotations

from gatewise._http._async import AsyncTransport

ASYNC_TRANSPORTS = ("aiohttp", "lean")


def make_transport(name: str) -> AsyncTransport:
    if name == "aiohttp":
        from gatewise._http._aiohttp import AiohttpTransport

        return AiohttpTransport()
    from gatewise._http._h1 import LeanTransport

    return LeanTransport()
