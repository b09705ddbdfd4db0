"""``Secrets``: what one call must never show in an error, and taking it out.

A call's secrets are its API key, the values of its extra headers (an organisation secret,
a gateway token...) and whatever its client was told to keep out (the proxy's master key).
An upstream may echo any of them back, in any case (``BEARER SK-...``), so they are matched
case-insensitively, and taken out of an error body where it enters the HTTP layer, before
the provider's adapter reads it, words it and cuts it short: a secret cut in two by a
truncation would no longer match anything.

Extra header values shorter than :data:`MIN_HEADER_SECRET` characters are not treated as
secrets (``1``, ``true``, ``2024-06``: no credential is that short, and taking such values
out of every message would garble them); the API key and the values given to ``redact``
are, whatever their length.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import re

MIN_HEADER_SECRET = 8
MASK = "***"


class Secrets:
    """An immutable set of secret strings; :meth:`scrub` masks them in text and in decoded
    JSON (keys and values, at any depth)."""

    __slots__ = ("_pattern", "_values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        # Longest first: where one secret contains another, the whole of it goes.
        self._values = tuple(sorted({v for v in values if v}, key=len, reverse=True))
        self._pattern: re.Pattern[str] | None = None

    def __bool__(self) -> bool:
        return bool(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:  # never the values themselves
        return f"Secrets(<{len(self._values)} values>)"

    def text(self, text: str) -> str:
        """``text`` with every secret, in any case, replaced by ``***``."""
        if not self._values:
            return text
        pattern = self._pattern
        if pattern is None:  # made on the first error that needs it, not per call
            import re

            pattern = self._pattern = re.compile(
                "|".join(map(re.escape, self._values)), re.IGNORECASE)
        return pattern.sub(MASK, text)

    def scrub(self, value: Any) -> Any:
        """``value`` (text, or decoded JSON) with every secret masked."""
        if not self._values:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value


NO_SECRETS = Secrets()


def call_secrets(key: str | None, headers: Iterable[Mapping[str, str] | None],
                 redact: Iterable[str] = ()) -> Secrets:
    """A call's secrets: its ``key``, the values of its extra ``headers`` (those of
    :data:`MIN_HEADER_SECRET` characters or more) and the ``redact`` values."""
    values = [key or "", *redact]
    for extra in headers:
        if extra:
            values += [text for v in extra.values()
                       if len(text := str(v).strip()) >= MIN_HEADER_SECRET]
    return Secrets(values)
