"""The only network I/O in gatewise: transports, timeouts, retries, SSE, error mapping.

Nothing outside this package knows which library sends the bytes: the blocking path uses
httpx (``_sync``), the asyncio path aiohttp (``_async``) or, for the proxy, the lean
HTTP/1.1 client of ``_h1`` (asyncio protocol + httptools); both paths expose the same
functions (``send``, ``open_stream``, ``iter_events``) over a swappable transport.
"""

from gatewise._http._models import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_NUM_RETRIES,
    DEFAULT_TIMEOUT,
    RawResponse,
    Request,
    Timeout,
)
from gatewise._http._retry import RetryPolicy
from gatewise._http._sse import EventDecoder

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_NUM_RETRIES",
    "DEFAULT_TIMEOUT",
    "EventDecoder",
    "RawResponse",
    "Request",
    "RetryPolicy",
    "Timeout",
]
