"""``Secret``: a string that never shows itself in a repr, a log line or an f-string."""

from __future__ import annotations

import hashlib
import hmac


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


class Secret:
    """Holds an API key or the master key; ``reveal()`` is the only way to read it."""

    __slots__ = ("_accepted", "_digest", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._digest = _digest(value.encode())
        # Candidates that matched (at most the key itself, in its few spellings of
        # whitespace): found again by a set lookup, which compares hashes (keyed per
        # process), so no byte of the key shows in the timing.
        self._accepted: set[bytes] = set()

    def reveal(self) -> str:
        return self._value

    def matches(self, candidate: bytes) -> bool:
        """Compare with ``candidate`` in constant time: fixed-length digests, so neither the
        key's length nor how much of it a candidate gets right shows in the timing."""
        if candidate in self._accepted:
            return True
        if not hmac.compare_digest(_digest(candidate), self._digest):
            return False
        if len(self._accepted) < 4:
            self._accepted.add(bytes(candidate))
        return True

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._digest, other._digest)

    def __hash__(self) -> int:
        return hash(self._digest)
