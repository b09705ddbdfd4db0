"""Reading response bodies: JSON for answers, anything readable for errors."""

from __future__ import annotations

from typing import Any

import orjson

from gatewise._exceptions import APIResponseValidationError


def decode_answer(content: bytes) -> dict[str, Any]:
    """A 2xx body must be a JSON object; anything else is the upstream's fault."""
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise APIResponseValidationError(
            f"the upstream answered 2xx with a body that is not JSON: {content[:200]!r}"
        ) from None
    if not isinstance(data, dict):
        raise APIResponseValidationError(
            f"the upstream answered 2xx with JSON that is not an object: {content[:200]!r}"
        )
    return data


def decode_error_body(content: bytes) -> Any:
    """An error body as JSON when it is JSON, else as text (None when empty)."""
    if not content:
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode("utf-8", "replace")
