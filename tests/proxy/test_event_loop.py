"""The proxy never blocks its event loop: served by uvicorn on the test's own loop in
asyncio's debug mode, a few hundred mixed requests (plain, streamed, embeddings) against the
fake upstream must not make asyncio report any callback slower than 50 ms."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import httpx
import pytest

from tests.fake_mistral import FakeMistral
from tests.proxy._inprocess import serving
from tests.proxy.conftest import HELLO, make_app

REQUESTS = 300
CONCURRENCY = 16


async def test_no_callback_blocks_the_loop_under_load(fake_mistral: FakeMistral,
                                                      caplog: pytest.LogCaptureFixture) -> None:
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
    loop = asyncio.get_running_loop()
    try:
        # Startup (the config, the lifespan's one garbage collection) is done before the
        # port opens: the run is measured from the first request.
        async with serving(app) as port, httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=10,
                limits=httpx.Limits(max_connections=CONCURRENCY)) as client:
            loop.set_debug(True)
            loop.slow_callback_duration = 0.05
            caplog.set_level(logging.WARNING, logger="asyncio")
            queue = list(plan)

            async def worker() -> None:  # a few long-lived tasks: the client stays cheap
                while queue:
                    path, body = queue.pop()
                    answer = await client.post(path, json=body)
                    statuses.append(answer.status_code)
                    if body.get("stream"):
                        assert answer.text.endswith("data: [DONE]\n\n")

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            loop.set_debug(False)
    finally:
        loop.set_debug(False)
        await app.state.aclose()
    assert statuses == [200] * REQUESTS
    slow = [r.getMessage() for r in caplog.records
            if r.name == "asyncio" and "took" in r.getMessage()]
    assert not slow, "\n".join(slow[:10])
    assert len(fake_mistral.requests) == REQUESTS
