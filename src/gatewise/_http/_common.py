"""What both I/O paths share beyond the pure modules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gatewise._exceptions import APIError

ErrorFor = Callable[[int, Any, Mapping[str, str]], APIError]
"""Maps an error status, decoded body and headers to the provider's typed error."""


def with_context(error: APIError, provider: str, model: str) -> APIError:
    """Name the provider and model on an error raised below the adapter."""
    error.provider = error.provider or provider
    error.model = error.model or model
    return error
