"""JSON values passed on as the upstream sent them, and writing an answer holding them.

A big embeddings answer is mostly numbers the proxy only relays: parsing them into Python
floats and formatting them again took most of a second of the event loop per 2,048 vectors
and left the process holding the memory of millions of small objects.  The adapter cuts each
vector out of the upstream's bytes instead (a :class:`RawJSON`, a view: no copy), and
:func:`encode_chunks` writes the answer in pieces of bounded size, each vector's bytes
copied once, straight into the piece that carries it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

CHUNK_ITEMS = 32
"""Items of a list written per piece: ~0.7 MB of 1,024-float vectors, a few ms to write."""


class RawJSON:
    """One JSON value, as the upstream's bytes (a view of its answer: nothing is copied)."""

    __slots__ = ("view",)

    def __init__(self, view: memoryview) -> None:
        self.view = view

    def __repr__(self) -> str:
        return f"RawJSON({len(self.view)} bytes)"


def _fragment(value: Any) -> orjson.Fragment:
    if isinstance(value, RawJSON):
        return orjson.Fragment(value.view.tobytes())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    """``value`` as JSON bytes, :class:`RawJSON` values written as they are."""
    return orjson.dumps(value, default=_fragment)


def _append(value: Any, out: list[bytes | memoryview]) -> None:
    """``value`` as JSON onto ``out``: a :class:`RawJSON` as its bytes (copied once, when
    ``out`` is joined), an object member by member, anything else by orjson."""
    if type(value) is RawJSON:
        out.append(value.view)
    elif type(value) is dict:
        out.append(b"{")
        for number, (name, member) in enumerate(value.items()):
            out += (b"," if number else b"", orjson.dumps(name), b":")
            _append(member, out)
        out.append(b"}")
    else:
        out.append(dumps(value))


def _members(members: dict[str, Any]) -> bytes:
    """``members`` as the inside of a JSON object (no braces), empty when there are none."""
    return dumps(members)[1:-1]


def encode_chunks(answer: dict[str, Any], key: str = "data") -> Iterator[bytes]:
    """``answer`` as JSON, in pieces: its members before ``key``, then the ``key`` list's
    items :data:`CHUNK_ITEMS` at a time, then its members after it (one piece when the
    list is that short).  The pieces joined read as ``dumps(answer)``."""
    items = answer.get(key)
    if not isinstance(items, list):
        yield dumps(answer)
        return
    names = list(answer)
    where = names.index(key)
    before = _members({name: answer[name] for name in names[:where]})
    after = _members({name: answer[name] for name in names[where + 1:]})
    head = b"{" + before + (b"," if before else b"") + orjson.dumps(key) + b":["
    tail = b"]" + (b"," + after if after else b"") + b"}"
    pieces: list[bytes | memoryview] = [head]
    for start in range(0, len(items), CHUNK_ITEMS):
        for number, item in enumerate(items[start:start + CHUNK_ITEMS], start):
            if number:
                pieces.append(b",")
            _append(item, pieces)
        if len(items) > CHUNK_ITEMS:
            yield b"".join(pieces)
            pieces = []
    pieces.append(tail)
    yield b"".join(pieces)
