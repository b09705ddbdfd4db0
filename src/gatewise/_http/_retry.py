"""When to retry and how long to wait: pure functions shared by the sync and async paths.

Retried: connection errors, timeouts, 408, 409, 429 and 5xx (the error's ``retryable``).
Never retried: any other 4xx.  The wait is exponential with jitter, or the upstream's
``Retry-After`` when it gave one; a ``Retry-After`` longer than ``max_retry_after`` is not
waited out: the error is raised at once so the caller (or the router) can go elsewhere.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from gatewise._exceptions import APIError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    num_retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, error: APIError, attempt: int) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or None to give up."""
        if attempt >= self.num_retries or not error.retryable:
            return None
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return max(0.0, float(error.retry_after))
        ceiling = min(self.backoff_max, self.backoff_base * 2.0**attempt)
        return ceiling / 2 + random.random() * ceiling / 2
