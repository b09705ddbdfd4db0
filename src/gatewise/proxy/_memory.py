"""Giving memory back to the system after big answers (glibc; a no-op elsewhere).

glibc keeps what a process frees for its next allocations.  After a burst of big embedding
answers (tens of MB each, read and written in pieces) the proxy held 2-4 times its idle
size for good.  Two things hand it back:

- :func:`tune_allocator` (once, at startup): blocks of 1 MiB and more get mappings of their
  own, unmapped when freed.  By default glibc raises that threshold to the largest block
  freed so far (up to 32 MiB) and then keeps such blocks in its heap.
- :class:`BigAnswers`: when the last big answer in flight has been sent, ``malloc_trim``
  returns the heap's free pages (a few ms, once per burst, never per request).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20
BIG = 8 << 20
"""Bytes from which an answer counts as big."""


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:  # another C library (musl): it returns freed memory by itself
        return None


class BigAnswers:
    """Counts the big answers being sent; trims the heap when the last one is done."""

    __slots__ = ("_in_flight", "_libc", "_owed")

    def __init__(self) -> None:
        self._libc = _libc()
        self._in_flight = 0
        self._owed = 0  # bytes of answers sent since the last trim

    def tune_allocator(self) -> None:
        if self._libc is not None:
            self._libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)

    def started(self) -> None:
        self._in_flight += 1

    def done(self, size: int) -> None:
        self._in_flight -= 1
        self._owed += size
        if self._in_flight == 0 and self._owed >= BIG and self._libc is not None:
            self._owed = 0
            self._libc.malloc_trim(0)
