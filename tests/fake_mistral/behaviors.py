"""Scripted misbehaviour for failure tests: ``fake.script(Status(429), Normal(), ...)``.

Each authenticated request consumes the next behaviour, before any validation. The stream
behaviours count SSE events (the first chunk is event 1). On a non-stream request,
``CutStream`` drops the connection without an answer (whatever ``clean`` says),
``StallStream`` waits its seconds before answering, and ``BadEvent`` answers normally.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from .errors import error_body


@dataclass(frozen=True)
class Status:
    """Answer ``code`` instead; ``body`` (dict → JSON, str/bytes → as is) or the default."""

    code: int
    body: Any = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Delay:
    """Sleep, then answer normally (for timeouts)."""

    seconds: float


@dataclass(frozen=True)
class CutStream:
    """Send ``after_events`` events, then drop the connection (no ``[DONE]``).

    ``clean=True`` ends the HTTP response properly instead, so the client sees a complete
    body that simply lacks ``[DONE]``.
    """

    after_events: int
    clean: bool = False


@dataclass(frozen=True)
class StallStream:
    """Send ``after_events`` events, go silent for ``seconds``, then carry on."""

    after_events: int
    seconds: float


@dataclass(frozen=True)
class Garbage:
    """Answer these raw bytes."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"


@dataclass(frozen=True)
class BadEvent:
    """After ``after_events`` events, send one whose data is not JSON, then carry on."""

    after_events: int


@dataclass(frozen=True)
class Normal:
    """Answer normally."""


Behavior = Status | Delay | CutStream | StallStream | Garbage | BadEvent | Normal


def default_body(code: int) -> dict[str, Any]:
    """What the live API sends with ``code`` (mistral-api.md §6.2)."""
    if code == 401:
        return {"detail": "Unauthorized"}
    if code == 404:
        return {"detail": "Not Found"}
    if code == 429:
        return error_body("Rate limit exceeded", "rate_limited", "1300", 429)
    kind = "internal_server_error" if code >= 500 else "invalid_request_error"
    return error_body(HTTPStatus(code).phrase, kind, None, code)
