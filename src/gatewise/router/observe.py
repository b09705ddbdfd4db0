"""Watching a router's attempts: the hook tracing and metrics use, nothing when unused.

``Router.observe(observer)`` gives the engine an :class:`AttemptObserver`.  From then on
it is told of every attempt on a deployment as it starts (in the caller's context: a span
started there is the child of the caller's current span), with the model asked for, and
the :class:`Watch` it returns is told how the attempt ended -- for a stream, when the stream
ends, with its usage -- and of every cooldown the router sets.  The watch's ``headers`` go
on the attempt's upstream request (a trace's ``traceparent``: ``gatewise._http.
_propagate``).  A router without an observer does not look for one: its engine calls the
plain attempt (``Caller.call`` is bound once).

An observer must be quick and must not block; one that raises is logged, and the call goes
on as if it were not there.  :class:`Observers` fans out to several.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from gatewise.router.deployments import Deployment

__all__ = ["AttemptObserver", "Observers", "Watch"]

logger = logging.getLogger("gatewise.router")


class Watch(Protocol):
    headers: tuple[tuple[str, str], ...]
    """Headers for the attempt's upstream request (empty: none)."""

    def ended(self, error: BaseException | None, usage: Any) -> None:
        """The attempt is over: ``error`` if it failed (or its stream broke), else None;
        ``usage`` when known (OpenAI's shape, a dict or a model)."""


class AttemptObserver(Protocol):
    def attempt_started(self, deployment: Deployment, model: str, stream: bool) -> Watch:
        """An attempt on ``deployment`` for ``model`` (the upstream model, a wildcard's
        made concrete) begins."""

    def cooled_down(self, deployment: Deployment, seconds: float) -> None:
        """The router has benched ``deployment`` for ``seconds``."""


class _Watches:
    __slots__ = ("headers", "watches")

    def __init__(self, watches: list[Watch]) -> None:
        self.watches = watches
        self.headers = tuple(h for w in watches for h in w.headers)

    def ended(self, error: BaseException | None, usage: Any) -> None:
        for watch in self.watches:
            try:
                watch.ended(error, usage)
            except Exception:
                logger.exception("an attempt observer failed at the end of an attempt")


class Observers:
    """Several observers as one (each guarded: one that raises misses the attempt)."""

    def __init__(self, observers: Sequence[AttemptObserver]) -> None:
        self.observers = tuple(observers)

    def attempt_started(self, deployment: Deployment, model: str, stream: bool) -> Watch:
        watches = []
        for observer in self.observers:
            try:
                watches.append(observer.attempt_started(deployment, model, stream))
            except Exception:
                logger.exception("an attempt observer failed at the start of an attempt")
        return _Watches(watches)

    def cooled_down(self, deployment: Deployment, seconds: float) -> None:
        for observer in self.observers:
            try:
                observer.cooled_down(deployment, seconds)
            except Exception:
                logger.exception("an attempt observer failed on a cooldown")
