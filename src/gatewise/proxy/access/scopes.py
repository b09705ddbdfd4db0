"""An identity's ``Budget`` as the ``Scope`` a request is admitted against.

The budget period comes from ``budget_reset_at`` and ``budget_duration``: while the period
the database knows is current, the live spend starts from the database's ``spend``; once it
is over (the ledger writer resets the row a little later), from 0.  ``share``: with
``--workers N`` and no shared store, each worker enforces 1/N of every limit and budget
(the kernel spreads connections evenly), never N times them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from gatewise.proxy.access.entities import Budget
from gatewise.proxy.access.periods import next_reset, parse_duration
from gatewise.state.ticket import Scope

__all__ = ["scope_for"]

FOREVER = math.inf


def _share(limit: int | None, share: int) -> int | None:
    return None if limit is None else max(1, limit // share)


def scope_for(kind: str, ref: str, budget: Budget, *, share: int = 1,
              now: datetime | None = None) -> tuple[Scope | None, float]:
    """The scope (None when the budget limits nothing) and until when it holds (epoch
    seconds: the end of its budget period)."""
    if not budget.limited:
        return None, FOREVER
    period, base, until = 0, budget.spend, FOREVER
    if budget.max_budget is not None and budget.budget_duration:
        try:
            duration = parse_duration(budget.budget_duration)
        except ValueError:
            duration = None  # refused when it was set; an old row must not break requests
        if duration is not None:
            now = now or datetime.now(UTC)
            reset_at = budget.budget_reset_at or duration.after(now)
            end = next_reset(reset_at, duration, now)
            if end != reset_at:  # the database's period is over: this one starts empty
                base = 0.0
            period, until = int(end.timestamp()), end.timestamp()
    max_budget = budget.max_budget
    if max_budget is not None and share > 1:
        max_budget, base = max_budget / share, base / share
    return Scope(kind, ref, rpm=_share(budget.rpm_limit, share),
                 tpm=_share(budget.tpm_limit, share),
                 parallel=_share(budget.max_parallel_requests, share),
                 max_budget=max_budget, period=period, base_spend=base), until
