"""Server-sent events -> decoded JSON payloads, incrementally, for both I/O paths."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

import orjson

from gatewise._exceptions import APIResponseValidationError
from gatewise._http._decode import excerpt
from gatewise._http._secrets import NO_SECRETS, Secrets

DONE = b"[DONE]"
T = TypeVar("T")


class Decoder(Protocol[T]):
    """Bytes in as they arrive, items out: :class:`EventDecoder`'s events, or a relay's
    blocks of SSE bytes (``gatewise._relay``)."""

    @property
    def done(self) -> bool: ...

    @property
    def error(self) -> Exception | None: ...

    def feed(self, chunk: bytes) -> list[T]: ...

    def finish(self) -> list[T]:
        """What is left once ``done`` (a clean end): called once."""
        ...


class EventDecoder:
    """Feed raw bytes as they arrive; get back each complete event's JSON payload.

    Only ``data:`` lines matter (Mistral sends no ``event:``/``id:``).  ``done`` turns True
    at ``data: [DONE]``; a payload that is not JSON raises ``APIResponseValidationError`` --
    after the good events that came before it in the same chunk: those are returned first
    and the error is kept in ``error``, raised by the next ``feed`` (readers check it after
    each chunk).
    """

    __slots__ = ("_buffer", "_data", "_secrets", "done", "error")

    def __init__(self, secrets: Secrets = NO_SECRETS) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self._secrets = secrets  # to take out of a bad event quoted in an error
        self.done = False
        self.error: APIResponseValidationError | None = None

    def finish(self) -> list[dict[str, Any]]:
        return []

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        if self.error is not None:
            raise self.error
        events: list[dict[str, Any]] = []
        buffer = self._buffer + chunk if self._buffer else chunk
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if line:
                if line.startswith(b"data:"):
                    self._data.append(line[6:] if line[5:6] == b" " else line[5:])
                continue
            if self._data:
                try:
                    event = self._dispatch()
                except APIResponseValidationError as exc:
                    if not events:
                        raise
                    self.error = exc
                    return events
                if event is not None:
                    events.append(event)
        return events

    def _dispatch(self) -> dict[str, Any] | None:
        payload = b"\n".join(self._data)
        self._data = []
        if self.done:
            return None
        if payload == DONE:
            self.done = True
            return None
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise APIResponseValidationError(
                "the upstream sent a stream event that is not JSON: "
                f"{excerpt(payload, self._secrets)}") from None
        if not isinstance(event, dict):
            raise APIResponseValidationError(
                "the upstream sent a stream event that is not a JSON object: "
                f"{excerpt(payload, self._secrets)}")
        return event
