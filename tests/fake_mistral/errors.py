"""Mistral's JSON error envelope (mistral-api.md §6)."""

from __future__ import annotations

from typing import Any

ErrorReply = tuple[int, dict[str, Any]]


def error_body(message: str, kind: str, code: str | None, status: int = 400) -> dict[str, Any]:
    """The 2026 envelope: ``{"object":"error", ..., "raw_status_code": status}``."""
    return {
        "object": "error",
        "message": message,
        "type": kind,
        "param": None,
        "code": code,
        "raw_status_code": status,
    }


def bad_request(
    message: str, kind: str = "invalid_request_error", code: str | None = None
) -> ErrorReply:
    """A 400 reply with the envelope."""
    return 400, error_body(message, kind, code)


def invalid_model(model: str) -> ErrorReply:
    return bad_request(f"Invalid model: {model}", "invalid_model", "1500")


def invalid_args(message: str) -> ErrorReply:
    """A request argument the model does not support (code 3051)."""
    return bad_request(message, "invalid_request_invalid_args", "3051")
