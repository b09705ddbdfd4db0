"""A scripted stand-in for ``AsyncClient``: each deployment (by ``api_base``) answers from
its own queue of steps, so routing logic can be tested exactly, with no sockets."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

from gatewise._async_client import AsyncClient
from gatewise._streaming import AsyncStream


@dataclass(frozen=True)
class Sleep:
    """Wait this long, then answer (or, for a stream, before the first chunk)."""

    seconds: float


@dataclass(frozen=True)
class BreakAfter:
    """A stream that sends ``chunks`` chunks, then fails with ``error``."""

    chunks: int
    error: Exception


Step = str | BaseException | Sleep | BreakAfter


def _chunk(base: str, i: int, usage: bool = False) -> dict[str, Any]:
    chunk: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk", "model": "m",
                             "choices": [{"index": 0, "delta": {"content": f"{base}:{i}"}}]}
    if usage:
        chunk["usage"] = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    return chunk


class ScriptedClient:
    def __init__(self) -> None:
        self.scripts: dict[str, deque[Step]] = defaultdict(deque)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.models: list[str] = []  # the model each call asked for
        self.open_streams = 0

    def script(self, base: str, *steps: Step) -> None:
        self.scripts[base].extend(steps)

    def served(self, base: str) -> int:
        return sum(1 for b, _ in self.calls if b == base)

    def as_client(self) -> AsyncClient:
        return cast(AsyncClient, self)

    async def completion_dict(self, model: str, messages: Any, **params: Any) -> Any:
        base = params["api_base"]
        self.calls.append((base, params))
        self.models.append(model)
        queue = self.scripts[base]
        step = queue.popleft() if queue else "ok"
        if params.get("stream"):
            return await self._stream(base, step)
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, BaseException):
            raise step
        return {"object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": base}}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}}

    completion = completion_dict

    async def embedding_dict(self, model: str, input: Any, **params: Any) -> Any:
        answer = await self.completion_dict(model, input, **params)
        return {"object": "list", "model": model, "served_by": answer["choices"][0]["message"],
                "data": [{"object": "embedding", "index": 0, "embedding": [0.0]}],
                "usage": {"prompt_tokens": 2, "total_tokens": 2}}

    embedding = embedding_dict

    async def _stream(self, base: str, step: Step) -> AsyncStream[Any]:
        if isinstance(step, BaseException):
            raise step
        self.open_streams += 1

        async def chunks() -> AsyncIterator[dict[str, Any]]:
            try:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                count = step.chunks if isinstance(step, BreakAfter) else 3
                for i in range(count):
                    yield _chunk(base, i, usage=i == count - 1)
                if isinstance(step, BreakAfter):
                    raise step.error
            finally:
                self.open_streams -= 1

        return AsyncStream(chunks(), lambda c: c)

    async def aclose(self) -> None:
        return None
