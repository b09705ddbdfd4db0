"""``Stream`` / ``AsyncStream`` of chunks, and rebuilding one response from chunks.

A stream always closes its upstream response: when it is exhausted, when the caller calls
``close()``, leaves a ``with`` block, or drops it after breaking out of a loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from gatewise.catalogue import Catalogue
    from gatewise.types import ModelResponse, ModelResponseChunk

T = TypeVar("T")
Chunk = dict[str, Any]


def same(item: T) -> T:
    """The ``wrap`` of a stream whose items go out as they come (dicts, SSE bytes)."""
    return item


class Stream(Generic[T]):
    """Iterate to get chunks; ``with`` or ``close()`` to let go of the connection early."""

    def __init__(self, chunks: Iterator[Any], wrap: Callable[[Any], T],
                 on_close: Callable[[], None] | None = None,
                 usage: Callable[[], Chunk | None] | None = None) -> None:
        self._chunks = chunks
        self._wrap = wrap
        self._on_close = on_close
        self._usage = usage
        self._closed = False

    @property
    def usage(self) -> Chunk | None:
        """A relayed stream's usage (``completion_sse``), once an event said it; else None:
        a chunk stream's usage is in its chunks."""
        return self._usage() if self._usage is not None else None

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        try:
            return self._wrap(next(self._chunks))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


class AsyncStream(Generic[T]):
    """``async for`` to get chunks; ``async with`` or ``aclose()`` to stop early."""

    def __init__(self, chunks: AsyncIterator[Any], wrap: Callable[[Any], T],
                 on_close: Callable[[], None] | None = None,
                 usage: Callable[[], Chunk | None] | None = None) -> None:
        self._chunks = chunks
        self._wrap = wrap
        self._on_close = on_close
        self._usage = usage
        self._closed = False

    @property
    def usage(self) -> Chunk | None:
        """A relayed stream's usage (``completion_sse``), once an event said it; else None:
        a chunk stream's usage is in its chunks."""
        return self._usage() if self._usage is not None else None

    def items(self) -> AsyncIterator[Any]:
        """What to iterate for this stream's items: its chunks themselves when they go out
        as they come (``wrap`` is :func:`same`: a relay's reads), one frame less per item;
        the caller closes the stream (``aclose()``) when they end or fail, as
        ``__anext__`` would."""
        return self._chunks if self._wrap is same else self

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return self._wrap(await self._chunks.__anext__())
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        aclose = getattr(self._chunks, "aclose", None)
        try:
            if aclose is not None:
                await aclose()
        finally:
            if self._on_close is not None:
                self._on_close()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # Dropped without aclose (e.g. `break` out of `async for`): release the socket now;
        # the generator itself is finalised by the event loop.
        if not self._closed and self._on_close is not None:
            self._closed = True
            self._on_close()


def translate(events: Iterable[Chunk], translator: Any) -> Iterator[Chunk]:
    for event in events:
        yield from translator.feed(event)
    yield from translator.finish()


async def atranslate(events: AsyncIterator[Chunk], translator: Any) -> AsyncIterator[Chunk]:
    try:
        async for event in events:
            for chunk in translator.feed(event):
                yield chunk
        for chunk in translator.finish():
            yield chunk
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()  # now, rather than in a task the event loop would schedule


async def aiter_list(chunks: list[T]) -> AsyncIterator[T]:
    for chunk in chunks:
        yield chunk


def build_response_dict(chunks: Iterable[Chunk]) -> dict[str, Any]:
    """Merge OpenAI chunk dicts into one chat.completion dict."""
    head: Chunk | None = None
    usage: Any = None
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        head = head or chunk
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            _merge_choice(choices.setdefault(choice.get("index", 0), _empty_choice(choice)),
                          choice)
    if head is None:
        raise ValueError("cannot build a response from no chunks")
    response: dict[str, Any] = {
        "id": head.get("id", ""), "object": "chat.completion",
        "created": head.get("created", 0), "model": head.get("model", ""),
        "choices": [_finish_choice(c) for _, c in sorted(choices.items())],
    }
    if usage is not None:
        response["usage"] = usage
    return response


def _empty_choice(choice: Chunk) -> dict[str, Any]:
    return {"index": choice.get("index", 0), "role": "assistant", "content": [],
            "reasoning": [], "tool_calls": {}, "finish_reason": None}


def _merge_choice(acc: dict[str, Any], choice: Chunk) -> None:
    delta = choice.get("delta") or {}
    if delta.get("role"):
        acc["role"] = delta["role"]
    if delta.get("content"):
        acc["content"].append(delta["content"])
    if delta.get("reasoning_content"):
        acc["reasoning"].append(delta["reasoning_content"])
    for call in delta.get("tool_calls") or ():
        slot = acc["tool_calls"].setdefault(
            call.get("index", 0), {"id": None, "type": "function",
                                   "function": {"name": "", "arguments": ""}})
        if call.get("id"):
            slot["id"] = call["id"]
        function = call.get("function") or {}
        slot["function"]["name"] += function.get("name") or ""
        slot["function"]["arguments"] += function.get("arguments") or ""
    if choice.get("finish_reason"):
        acc["finish_reason"] = choice["finish_reason"]


def _finish_choice(acc: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": acc["role"], "content": "".join(acc["content"]) or None}
    if acc["tool_calls"]:
        message["tool_calls"] = [call for _, call in sorted(acc["tool_calls"].items())]
    if acc["reasoning"]:
        message["reasoning_content"] = "".join(acc["reasoning"])
    return {"index": acc["index"], "message": message, "finish_reason": acc["finish_reason"]}


def stream_chunk_builder(chunks: Iterable[ModelResponseChunk | Chunk], *,
                         catalogue: Catalogue | None = None) -> ModelResponse:
    """Rebuild the full response a stream would have given as one answer (with its
    ``cost`` by the catalogue's prices, the default catalogue unless one is given)."""
    from gatewise.catalogue import completion_cost
    from gatewise.types import ModelResponse, ModelResponseChunk  # (pydantic: loaded here)

    dicts = [c.model_dump(exclude_none=True) if isinstance(c, ModelResponseChunk) else c
             for c in chunks]
    data = build_response_dict(dicts)
    response = ModelResponse.model_validate(data)
    response._cost = completion_cost(data, catalogue=catalogue)
    return response
