"""What both I/O paths share beyond the pure modules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gatewise._exceptions import APIError
from gatewise._http._decode import decode_error_body
from gatewise._http._secrets import Secrets

ErrorFor = Callable[[int, Any, Mapping[str, str]], APIError]
"""Maps an error status, decoded body and headers to the provider's typed error."""


def error_from(error_for: ErrorFor, status: int, content: bytes, headers: Mapping[str, str],
               secrets: Secrets) -> APIError:
    """The provider's error for an error response: its body decoded and rid of the call's
    secrets first, so the adapter words and shortens it with nothing secret left in it."""
    return error_for(status, secrets.scrub(decode_error_body(content)), headers)


def with_context(error: APIError, provider: str, model: str, secrets: Secrets) -> APIError:
    """Name the provider and model on an error leaving the HTTP layer, and take the call's
    secrets out of its message and body wherever they still show (an error the HTTP layer
    or a stream made, rather than an error body)."""
    error.provider = error.provider or provider
    error.model = error.model or model
    if secrets:
        message = secrets.text(error.message)
        if message != error.message:
            error.message = message
            error.args = (message,)
        error.body = secrets.scrub(error.body)
        if error.param:
            error.param = secrets.text(error.param)
        if isinstance(error.code, str):
            error.code = secrets.text(error.code)
    return error
