"""Whole-call deadlines for many concurrent calls on one timer per event loop.

``asyncio.timeout`` arms and cancels a timer for every call: about 7 µs a call on uvloop,
on the proxy's hot path.  Here a call only registers its task and deadline; one timer per
loop is armed for the earliest deadline, and when it fires it cancels the tasks past
theirs and re-arms for the next.  Calls with the same timeout end in the order they
started, so under steady traffic the timer is almost never touched.

The semantics are ``asyncio.timeout``'s: a call past its deadline is cancelled and the
``with`` block raises ``TimeoutError``; a cancellation that is not the deadline's (the
client left, the server is shutting down) passes through as ``CancelledError``.
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType
from typing import Any

Task = asyncio.Task[Any]


class Deadlines:
    """The deadlines of one event loop (one at a time per task: they do not nest)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: dict[Task, tuple[float, int]] = {}  # task -> (deadline, its cancelling())
        self._fired: set[Task] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = math.inf

    def add(self, task: Task, seconds: float) -> None:
        when = self._loop.time() + seconds
        self._due[task] = (when, task.cancelling())
        if when < self._armed_for:
            self._arm(when)

    def remove(self, task: Task) -> bool:
        """Forget ``task``'s deadline; True if it fired and no other cancellation is pending
        (its own cancellation is taken back)."""
        _, cancelling = self._due.pop(task)
        if task not in self._fired:
            return False
        self._fired.discard(task)
        return task.uncancel() <= cancelling

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_for = when
        self._timer = self._loop.call_at(when, self._expire)

    def _expire(self) -> None:
        self._timer, self._armed_for = None, math.inf
        now = self._loop.time()
        following = math.inf
        for task, (when, _) in self._due.items():
            if when > now:
                following = min(following, when)
            elif task not in self._fired:
                self._fired.add(task)
                task.cancel()
        if following < math.inf:
            self._arm(following)


class PerLoop:
    """One :class:`Deadlines` per event loop (a router may serve from several: its sync
    twins run on a private loop thread)."""

    def __init__(self) -> None:
        self._by_loop: dict[asyncio.AbstractEventLoop, Deadlines] = {}
        self._last: tuple[asyncio.AbstractEventLoop | None, Deadlines | None] = (None, None)

    def within(self, seconds: float) -> Within:
        """``with deadlines.within(seconds):`` in a coroutine -- like ``async with
        asyncio.timeout(seconds)``, but a plain context manager: entering and leaving it
        need not await anything, so they cost no coroutine of their own."""
        return Within(self, seconds)

    def current(self, loop: asyncio.AbstractEventLoop | None = None) -> Deadlines:
        """The running loop's deadlines (``loop``, when the caller has it at hand)."""
        if loop is None:
            loop = asyncio.get_running_loop()
        last_loop, deadlines = self._last  # (a proxy has one loop: asked on every call)
        if last_loop is loop and deadlines is not None:
            return deadlines
        deadlines = self._by_loop.get(loop)
        if deadlines is None:
            for old in [old for old in self._by_loop if old.is_closed()]:
                del self._by_loop[old]
            deadlines = self._by_loop[loop] = Deadlines(loop)
        self._last = (loop, deadlines)
        return deadlines


class Within:
    __slots__ = ("_deadlines", "_loops", "_seconds", "_task")

    def __init__(self, loops: PerLoop, seconds: float) -> None:
        self._loops = loops
        self._seconds = seconds

    def __enter__(self) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a deadline needs a task")
        self._task = task
        self._deadlines = self._loops.current(loop)
        self._deadlines.add(task, self._seconds)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._deadlines.remove(self._task) and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc
