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
        # The key itself, found by a set lookup: that compares hashes (keyed per process),
        # so no byte of the key shows in the timing; anything else is compared in full.
        self._accepted = frozenset({value.encode()})

    def reveal(self) -> str:
        return self._value

    def matches(self, candidate: bytes) -> bool:
        """Compare with ``candidate`` in constant time: fixed-length digests, so neither the
        key's length nor how much of it a candidate gets right shows in the timing."""
        return self.is_exactly(candidate) or self.matches_digest(_digest(candidate))

    def is_exactly(self, candidate: bytes) -> bool:
        """``candidate`` is the key itself (a set lookup: no timing to learn from)."""
        return candidate in self._accepted

    def matches_digest(self, candidate_digest: bytes) -> bool:
        """The candidate whose SHA-256 is ``candidate_digest`` is the key (constant time)."""
        return hmac.compare_digest(candidate_digest, self._digest)

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._digest, other._digest)

    def __hash__(self) -> int:
        return hash(self._digest)
