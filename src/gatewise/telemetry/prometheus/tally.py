"""What the Prometheus sink counts between two scrapes, in plain numbers.

prometheus_client's ``inc()`` and ``observe()`` take a lock each (and a histogram's walks
its buckets in Python): a request's dozen of them cost about as much as all the rest of
its metrics.  So the sink adds each request to a few numbers and lists of its own, and
:meth:`Histogram.flush` / :meth:`Counter.flush` move the sums into prometheus_client's
metric children when the metrics are read (each scrape; with several workers, also within
a second of counting, so that a scrape answered by another worker sees this one's); the
exposition, the registry and the multiprocess files stay prometheus_client's.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

__all__ = ["Counter", "Histogram"]


class Counter:
    """A counter child's increments since its last flush."""

    __slots__ = ("child", "value")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.value: float = 0

    def flush(self) -> None:
        value = self.value
        if value:
            self.value = 0
            self.child.inc(value)


class Histogram:
    """A histogram child's observations since its last flush: how many fell in each of
    its buckets (``counts``, the last one ``+Inf``'s) and their sum.

    It reads the child's bounds and adds to its sum and buckets through their private
    names (``_upper_bounds``, ``_sum``, ``_buckets``): no public call adds many
    observations at once."""

    __slots__ = ("bounds", "child", "counts", "sum")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.bounds: Sequence[float] = child._upper_bounds  # (+Inf the last)
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count ``value`` in the first bucket whose bound it does not exceed (``le``)."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def flush(self) -> None:
        """Add the observations to the child as its own ``observe`` would have, one by one
        (the sum, and each bucket's count: prometheus_client keeps a histogram as one
        value per bucket, made cumulative when it is rendered)."""
        counts = self.counts
        if not any(counts):
            return
        child = self.child
        child._sum.inc(self.sum)
        buckets = child._buckets
        for at, count in enumerate(counts):
            if count:
                buckets[at].inc(count)
        self.counts = [0] * len(counts)
        self.sum = 0.0
