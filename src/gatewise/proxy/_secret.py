"""``Secret``: a string that never shows itself in a repr, a log line or an f-string."""

from __future__ import annotations

import hmac


class Secret:
    """Holds an API key or the master key; ``reveal()`` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def matches(self, candidate: bytes) -> bool:
        """Compare with ``candidate`` in constant time."""
        return hmac.compare_digest(candidate, self._value.encode())

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)
