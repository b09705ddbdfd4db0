"""``SharedClock``: the time every process sharing a Redis agrees on.

Windows (``now // 60``), cooldowns and budget periods are compared across processes, so
they must read one clock.  Each process reads its own (``time.time()``) plus its offset to
Redis's ``TIME``, measured at the midpoint of a round trip when it connects and again with
every heartbeat: the processes agree to within a round trip, however far apart their
machines' clocks have drifted.  Until the first measurement the offset is 0 (the
machine's clock, which NTP keeps close anyway).
"""

from __future__ import annotations

import time

__all__ = ["SharedClock"]


class SharedClock:
    __slots__ = ("offset",)

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def measured(self, redis_seconds: int, redis_micros: int, sent: float, received: float
                 ) -> None:
        """Adopt the offset a ``TIME`` answer gives, sent and received at ``time.time()``
        readings ``sent`` and ``received``."""
        self.offset = redis_seconds + redis_micros / 1e6 - (sent + received) / 2

    def __repr__(self) -> str:
        return f"SharedClock(offset={self.offset:+.6f})"
