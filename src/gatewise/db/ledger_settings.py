"""``LedgerSettings``: how the ledger writer batches (no database library needed to make
one, so the config can check them at load time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gatewise.proxy._readers import Reader

__all__ = ["LEDGER_KEYS", "LedgerSettings", "ledger_settings"]

# general_settings key -> field (LiteLLM's name for the flush interval; ours for the rest).
_KEYS = {"proxy_batch_write_at": "flush_interval", "ledger_batch_size": "batch_size",
         "ledger_max_queue": "max_queue", "ledger_flush_timeout": "flush_timeout",
         "ledger_reset_interval": "reset_interval"}
LEDGER_KEYS = frozenset(_KEYS)


@dataclass(frozen=True, slots=True)
class LedgerSettings:
    """How the writer batches.  Config keys (``general_settings``), as proposed:
    ``proxy_batch_write_at`` (LiteLLM's name, seconds) for ``flush_interval``,
    ``ledger_batch_size``, ``ledger_max_queue``, ``ledger_flush_timeout`` and
    ``ledger_reset_interval``."""

    batch_size: int = 500
    """Rows per transaction; a full batch is written at once."""
    flush_interval: float = 1.0
    """Seconds a row may wait for its batch to fill (what a ``kill -9`` may lose)."""
    max_queue: int = 100_000
    """Rows waiting in memory at most (while the database is away); beyond, dropped."""
    flush_timeout: float = 10.0
    """Seconds a graceful shutdown waits for the queue to be written."""
    reset_interval: float = 1.0
    """Seconds between two passes that reset the spend of ended budget periods."""

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_queue"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}")
        for name in ("flush_interval", "flush_timeout", "reset_interval"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, "
                                 f"got {value!r}")


def ledger_settings(r: Reader, general: dict[str, Any]) -> LedgerSettings | None:
    """The ledger's settings from ``general_settings`` (None when it sets none)."""
    given: dict[str, Any] = {}
    for key, name in _KEYS.items():
        if key not in general:
            continue
        path = f"general_settings.{key}"
        value = (r.count(general[key], path, low=1) if name in ("batch_size", "max_queue")
                 else r.seconds(general[key], path))
        if value is not None:
            given[name] = value
    return LedgerSettings(**given) if given else None
