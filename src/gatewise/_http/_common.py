"""What both I/O paths share beyond the pure modules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gatewise._exceptions import APIError
from gatewise._http._models import Request

ErrorFor = Callable[[int, Any, Mapping[str, str]], APIError]
"""Maps an error status, decoded body and headers to the provider's typed error."""


def with_context(error: APIError, provider: str, model: str, secret: str | None = None
                 ) -> APIError:
    """Name the provider and model on an error leaving the HTTP layer, and take out the
    API key wherever the upstream echoed it back (in its message or its body)."""
    error.provider = error.provider or provider
    error.model = error.model or model
    if secret:
        if secret in error.message:
            error.message = error.message.replace(secret, "***")
            error.args = (error.message,)
        error.body = _scrub(error.body, secret)
    return error


def secret_of(request: Request) -> str | None:
    """The bearer token a request carries (what must never come back out in an error)."""
    auth = request.headers.get("Authorization", "")
    return auth[7:] if auth.startswith("Bearer ") else None


def _scrub(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return value.replace(secret, "***") if secret in value else value
    if isinstance(value, dict):
        return {_scrub(k, secret): _scrub(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secret) for v in value]
    return value
