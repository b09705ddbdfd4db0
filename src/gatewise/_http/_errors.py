"""Transport failures -> gatewise errors: the one mapping every asyncio transport uses.

A timeout is an :class:`APITimeoutError`, anything else an :class:`APIConnectionError`; a
break after a stream's head says so.  ``unsent`` marks the errors raised before any
connection could be opened (refused, DNS failure, connect timeout, TLS handshake refused):
nothing reached the upstream, so another deployment may always be tried.
"""

from __future__ import annotations

from gatewise._exceptions import APIConnectionError, APIError, APITimeoutError


def mapped(exc: BaseException, *, mid_stream: bool = False, unsent: bool = False) -> APIError:
    """The gatewise error for a transport's exception ``exc``."""
    error: APIConnectionError
    if isinstance(exc, TimeoutError):
        error = APITimeoutError(f"the upstream did not answer in time ({type(exc).__name__})")
    elif mid_stream:
        error = APIConnectionError(
            f"the upstream stream broke before it was complete: {type(exc).__name__}: {exc}")
    else:
        error = APIConnectionError(
            f"could not talk to the upstream: {type(exc).__name__}: {exc}")
    if unsent:
        error.unsent = True
    return error
