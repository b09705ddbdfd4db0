"""The proxy never blocks its event loop: served by uvicorn on the test's own loop, a few
hundred mixed requests (plain, streamed, embeddings) against the fake upstream must not run
any callback that takes more than 50 ms of CPU, or 500 ms all told.

CPU time first, not wall time (asyncio's debug mode measures the latter): on a machine busy
with other work a callback is descheduled for tens of milliseconds without doing anything
wrong, while the work a blocking callback does is the same however busy the machine is.  A
callback waiting on blocking I/O uses no CPU: the wall-time bound, ten times larger, is for
that."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx
import pytest

from tests.fake_mistral import FakeMistral
from tests.proxy._inprocess import serving
from tests.proxy.conftest import HELLO, make_app

REQUESTS = 300
CONCURRENCY = 16


SLOW_CPU = 0.05
SLOW_WALL = 0.5


async def test_no_callback_blocks_the_loop_under_load(fake_mistral: FakeMistral,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def entry(name: str, model: str, **extra: object) -> dict[str, object]:
        return {"model_name": name, "litellm_params": {
            "model": model, "api_key": "test-key", "api_base": fake_mistral.base_url,
            "max_retries": 0}, **extra}

    app = make_app({"model_list": [
        entry("small", "mistral/mistral-small-latest"),
        entry("embed", "mistral/mistral-embed", model_info={"mode": "embedding"})]})
    shapes: list[tuple[str, dict[str, Any]]] = [
        ("/v1/chat/completions", {"model": "small", "messages": HELLO}),
        ("/v1/chat/completions", {"model": "small", "messages": HELLO, "stream": True,
                                  "stream_options": {"include_usage": True}}),
        ("/v1/embeddings", {"model": "embed", "input": ["one text", "and another"]}),
    ]
    rng = random.Random(7)
    plan = [rng.choice(shapes) for _ in range(REQUESTS)]
    assert all(plan.count(shape) > REQUESTS // 5 for shape in shapes)
    statuses: list[int] = []
    slow: list[str] = []
    measuring = False
    run = asyncio.Handle._run

    def timed(handle: asyncio.Handle) -> None:
        if not measuring:
            run(handle)
            return
        start, wall = time.thread_time(), time.perf_counter()
        run(handle)
        spent, took = time.thread_time() - start, time.perf_counter() - wall
        if spent > SLOW_CPU or took > SLOW_WALL:
            slow.append(f"{handle!r} used {spent * 1000:.0f} ms of CPU in {took * 1000:.0f} ms")

    monkeypatch.setattr(asyncio.Handle, "_run", timed)
    try:
        # Startup (the config, the lifespan's one garbage collection) is done before the
        # port opens: the run is measured from the first request.
        async with serving(app) as port, httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=10,
                limits=httpx.Limits(max_connections=CONCURRENCY)) as client:
            measuring = True
            queue = list(plan)

            async def worker() -> None:  # a few long-lived tasks: the client stays cheap
                while queue:
                    path, body = queue.pop()
                    answer = await client.post(path, json=body)
                    statuses.append(answer.status_code)
                    if body.get("stream"):
                        assert answer.text.endswith("data: [DONE]\n\n")

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            measuring = False
    finally:
        measuring = False
        await app.state.aclose()
    assert statuses == [200] * REQUESTS
    assert not slow, "\n".join(slow[:10])
    assert len(fake_mistral.requests) == REQUESTS
