"""``error_for``: a Mistral error response -> the matching gatewise error (reference §3, §6).

The class comes from the HTTP status first; Mistral's body only refines it (a 400 about the
context window becomes ``ContextWindowExceededError``).  Bodies come in many shapes over the
years: ``{"detail": [...]}`` (422 today), ``{"message": {"detail": [...]}}`` and
``{"message": "<detail JSON as a string>"}`` (older 422s), the ``object: "error"`` envelope,
``{"detail": "..."}``, ``{"message": "..."}``, plain text, or nothing; all read well here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from gatewise._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
    error_class_for_status,
)

# Mistral's exact wording for an overflowing prompt is not documented (§2.3); these match
# how Mistral and the servers it is built on (vLLM, mistral-common) phrase it.
_CONTEXT_OVERFLOW = re.compile(
    r"context[ _-]?(length|window|size)|too large for (the )?model|prompt is too long"
    r"|maximum (context|model length|sequence length)|max_model_len"
    r"|exceeds? the (model'?s? )?(maximum|max) (number of )?tokens",
    re.IGNORECASE,
)
_MAX_MESSAGE = 2000  # characters of upstream text worth showing
_MAX_INPUT_REPR = 80


def _short(text: str, limit: int = _MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _validation_items(body: Any) -> list[Any] | None:
    """The pydantic ``detail`` list of a 422, whichever envelope it came in."""
    if not isinstance(body, dict):
        return None
    detail = body.get("detail")
    if isinstance(detail, list):
        return detail
    message = body.get("message")
    if isinstance(message, str) and message.startswith("{"):
        try:
            message = json.loads(message)
        except ValueError:
            return None
    if isinstance(message, dict) and isinstance(message.get("detail"), list):
        detail_list: list[Any] = message["detail"]
        return detail_list
    return None


def _describe_item(item: Any) -> str:
    if not isinstance(item, dict):
        return _short(str(item), 200)
    location = item.get("loc")
    path = ".".join(str(p) for p in location) if isinstance(location, list) else "?"
    text = f"{path}: {item.get('msg') or item.get('type') or 'invalid'}"
    if "input" in item and item.get("type") != "missing":  # a missing field's input is
        text += f" (got {_short(repr(item['input']), _MAX_INPUT_REPR)})"  # the whole parent
    return text


def _read_body(body: Any) -> tuple[str, str | None, str | None, str | None]:
    """(message, type, code, param) from any error body shape."""
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        stripped = body.strip()
        if stripped.startswith("{"):
            try:
                return _read_body(json.loads(stripped))
            except ValueError:
                pass
        return _short(stripped), None, None, None
    if not isinstance(body, dict):
        return "", None, None, None
    if isinstance(body.get("error"), dict):  # OpenAI-style envelope, from proxies in between
        return _read_body(body["error"])
    kind, code, param = body.get("type"), body.get("code"), body.get("param")
    items = _validation_items(body)
    if items is not None:  # the field paths say it all; an envelope's type adds nothing
        message = "; ".join(_describe_item(item) for item in items)
        kind = None
    else:
        raw = body.get("message", body.get("detail", body.get("error")))
        message = _short(raw if isinstance(raw, str) else json.dumps(raw) if raw else "")
    return (message, kind if isinstance(kind, str) else None,
            None if code is None else str(code), param if isinstance(param, str) else None)


def _seconds(value: str | None) -> float | None:
    """A header's wait in seconds (a number, or an HTTP date: a past one is 0), or None when
    it says nothing usable: not finite (``inf``, ``nan``, ``1e400``), negative or unreadable
    values are treated as absent, never trusted."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if 0.0 <= seconds < math.inf else None  # False for NaN
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    from datetime import UTC, datetime

    try:
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, OverflowError):  # a date without a zone, or out of range
        return None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait: ``Retry-After`` (seconds or HTTP date), else ``x-ratelimit-reset-*``.

    Among the reset headers, those whose ``x-ratelimit-remaining-*`` twin is 0 name the limit
    that was hit; without such a hint the soonest reset is the honest guess.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    seconds = _seconds(lower.get("retry-after"))
    if seconds is not None:
        return seconds
    exhausted: list[float] = []
    others: list[float] = []
    for name, value in lower.items():
        if name.startswith("x-ratelimit-reset-"):
            reset = _seconds(value)
            if reset is not None:
                window = name.removeprefix("x-ratelimit-reset-")
                hit = lower.get(f"x-ratelimit-remaining-{window}", "").strip() == "0"
                (exhausted if hit else others).append(reset)
    if exhausted:
        return max(exhausted)
    return min(others) if others else None


def error_for(status: int, body: Any, *, headers: Mapping[str, str],
              model: str | None) -> APIError:
    """The gatewise error for a Mistral error response (to raise, not raised here)."""
    message, kind, code, param = _read_body(body)
    cls: type[APIError] = error_class_for_status(status)
    if status == 401:
        text = ("Mistral rejected the API key (401)"
                + (f": {message}" if message else "")
                + ". Check MISTRAL_API_KEY or the api_key you passed.")
        cls = AuthenticationError
    elif status >= 500:
        text = f"Mistral server error ({status}): {message or 'no details given'}"
    else:
        label = f"{status}, {kind}" if kind else str(status)
        text = f"Mistral rejected the request ({label}): {message or 'no details given'}"
        if cls is BadRequestError and _CONTEXT_OVERFLOW.search(message):
            cls = ContextWindowExceededError
    return cls(text, provider="mistral", model=model, status_code=status, body=body,
               retry_after=retry_after(headers) if headers else None, param=param, code=code)
