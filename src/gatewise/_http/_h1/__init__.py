"""The lean transport: a focused HTTP/1.1 client on asyncio for the proxy's hot path.

Chosen by measurement (``bench/``): aiohttp's client is most of the reference forwarder's
CPU, and a keep-alive client made of an ``asyncio.Protocol`` and httptools' response
parser costs a fraction of it.  What it does, module by module:

- ``_wire``: URLs to origins, the request head, chunked framing, response headers.
- ``_connection``: one connection (protocol + parser), the read timeout (one timer a
  connection), draining a stream closed early.
- ``_exchange``: the answer in progress, and what its headers say: framing, gzip / deflate
  (none is asked for: no ``Accept-Encoding`` is sent unless the caller sends one),
  keep-alive.
- ``_upload``: a streamed request body.
- ``_pool``: the connections of one origin: keep-alive, expiry, a cap, DNS cache.
- ``_stream``: a streaming answer, one read per arrival.
- ``_transport``: ``LeanTransport``, and the rule for resending on a kept-alive connection
  the upstream had closed.

TLS contexts come from ``gatewise._http._tls`` (shared with the aiohttp transport).

Loaded only by whoever uses it (the proxy, or a client given it): ``import gatewise``
never does.  Bodies of content-length, chunked and close-delimited framing; ``1xx``
answers skipped; no HTTP/2, proxies or redirects (none are wanted upstream).
"""

from gatewise._http._h1._stream import LeanStream
from gatewise._http._h1._transport import LeanTransport

__all__ = ["LeanStream", "LeanTransport"]
