"""The shared-timer deadlines behave like ``asyncio.timeout``, with one timer for many calls."""

from __future__ import annotations

import asyncio
import time

import pytest

from gatewise.router._deadline import Deadlines, PerLoop


async def test_a_call_past_its_deadline_times_out_on_time() -> None:
    deadlines = PerLoop()
    started = time.perf_counter()
    with pytest.raises(TimeoutError), deadlines.within(0.05):
        await asyncio.sleep(1)
    assert 0.045 <= time.perf_counter() - started < 0.3
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # its cancellation was taken back
    with deadlines.within(1):  # the same task goes on as usual
        await asyncio.sleep(0.01)


async def test_a_cancellation_that_is_not_the_deadlines_passes_through() -> None:
    deadlines = PerLoop()

    async def call() -> None:
        with deadlines.within(5):
            await asyncio.sleep(1)

    task = asyncio.ensure_future(call())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert deadlines.current()._due == {}


async def test_an_outside_cancellation_at_the_deadline_still_wins() -> None:
    deadlines = PerLoop()

    async def call() -> None:
        with deadlines.within(0.02):
            try:
                await asyncio.sleep(1)
            finally:
                current = asyncio.current_task()
                assert current is not None
                current.cancel()  # someone else wants it gone too

    with pytest.raises(asyncio.CancelledError):
        await asyncio.ensure_future(call())


async def test_many_calls_share_one_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    deadlines = PerLoop()
    armed: list[float] = []
    arm = Deadlines._arm

    def spy(self: Deadlines, when: float) -> None:
        armed.append(when)
        arm(self, when)

    monkeypatch.setattr(Deadlines, "_arm", spy)

    async def call(i: int) -> int:
        with deadlines.within(10):
            await asyncio.sleep(0.001 * (i % 5))
        return i

    assert await asyncio.gather(*(call(i) for i in range(200))) == list(range(200))
    assert len(armed) == 1  # the later deadlines never re-armed it

    async def slow(seconds: float) -> None:
        with deadlines.within(seconds):
            await asyncio.sleep(1)

    results = await asyncio.gather(slow(0.05), slow(0.1), return_exceptions=True)
    assert [type(r) for r in results] == [TimeoutError, TimeoutError]
    assert deadlines.current()._due == {}
