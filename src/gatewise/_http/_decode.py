"""Reading response bodies: JSON for answers, anything readable for errors."""

from __future__ import annotations

from typing import Any

import orjson

from gatewise._exceptions import APIResponseValidationError
from gatewise._http._secrets import NO_SECRETS, Secrets

EXCERPT = 200  # characters of an unreadable body worth quoting


def excerpt(content: bytes, secrets: Secrets) -> str:
    """The start of ``content``, quoted, for a message: rid of ``secrets`` before it is cut
    (a secret cut in two would no longer be found)."""
    if not secrets:
        return repr(content[:EXCERPT].decode("utf-8", "replace"))
    return repr(secrets.text(content.decode("utf-8", "replace"))[:EXCERPT])


def decode_answer(content: bytes, secrets: Secrets = NO_SECRETS) -> dict[str, Any]:
    """A 2xx body must be a JSON object; anything else is the upstream's fault."""
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise APIResponseValidationError(
            "the upstream answered 2xx with a body that is not JSON: "
            f"{excerpt(content, secrets)}") from None
    if not isinstance(data, dict):
        raise APIResponseValidationError(
            "the upstream answered 2xx with JSON that is not an object: "
            f"{excerpt(content, secrets)}")
    return data


def decode_error_body(content: bytes) -> Any:
    """An error body as JSON when it is JSON, else as text (None when empty)."""
    if not content:
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode("utf-8", "replace")
