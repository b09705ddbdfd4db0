"""A client's audio upload, relayed to the upstream as it arrives, and sent again on retry.

:class:`Upload` is the ``file`` of a transcription call (an ``UploadSource``): iterating it
gives the file's bytes -- those already received from a spool file, then the rest pulled
from the client's form as it comes, each piece written to the spool on the way.  So the
first attempt streams the upload through (memory holds a piece at a time, never the
file), and a retry or a fallback, which iterates it again, replays the spool and carries
on.  The spool is an anonymous temporary file (in ``TMPDIR``): disk, not memory.

While an attempt pulls from the client, the client's faults are not the upstream's: a
client that leaves, stalls or sends too much is noted in :attr:`Upload.failure` and the
request's task is cancelled (the router then books nothing against the deployment); the
route answers for it.  A form whose fields come after its file (``curl -F file=@a -F
language=en``) is noted the same way once its end is read (:attr:`Upload.restart`): the
attempt in flight is abandoned before its body is complete -- the upstream never gets a
whole request -- and the route calls again with every field, the file from the spool.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable
from typing import NoReturn, TypeVar

from gatewise._multipart import CHUNK
from gatewise.proxy._form import FormReader

T = TypeVar("T")


class Abandoned(Exception):
    """Raised into the transport by an attempt's body when the client side ended it."""


class Upload:
    """The form's file part (see the module's docstring)."""

    def __init__(self, reader: FormReader, filename: str, content_type: str,
                 early: list[tuple[str, str]]) -> None:
        self.filename = filename
        self.content_type = content_type
        self._reader = reader
        self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._size = 0
        self._file_done = False
        self._form_done = False
        self._lock = asyncio.Lock()
        self._task = asyncio.current_task()
        self.early = early
        """The form's fields before the file."""
        self.late: list[tuple[str, str]] = []
        """Those after it."""
        self.failure: BaseException | None = None
        self.restart = False
        """Set when fields came after the file of a call already under way."""
        self._fields_known = False  # every field was read before the call began

    # -- the upstream side: each attempt iterates it --------------------------------------

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        position = 0
        while True:
            if position < self._size:
                data = self._read_spool(position)
                position += len(data)
                yield data
                continue
            if self._file_done:
                break
            async with self._lock:
                if position < self._size or self._file_done:
                    continue  # another attempt pulled meanwhile
                chunk = await self._guarded(self._pull())
            if chunk:
                position += len(chunk)
                yield chunk
        if not self._form_done:
            async with self._lock:
                if not self._form_done:
                    await self._guarded(self._read_rest())
        if self.late and not self._fields_known:
            self._fields_known = self.restart = True
            self._abandon("form fields came after the file: the call starts again")

    def _read_spool(self, position: int) -> bytes:
        if self._spool.closed:
            raise Abandoned("the request is over")
        return os.pread(self._spool.fileno(), min(CHUNK, self._size - position), position)

    async def _pull(self) -> bytes | None:
        """The next piece of the file from the client (spooled), None at its end."""
        event = await self._reader.next()
        if event[0] == "file_end":
            self._file_done = True
            return None
        data: bytes = event[1]
        if self._spool.closed:
            raise Abandoned("the request is over")
        os.pwrite(self._spool.fileno(), data, self._size)  # small, to the page cache
        self._size += len(data)
        return data

    async def _read_rest(self) -> None:
        """The form's fields after the file, to its end."""
        while (event := await self._reader.next())[0] != "end":
            self.late.append((event[1], event[2]))
        self._form_done = True

    async def _guarded(self, step: Awaitable[T]) -> T:
        """``step`` (a read from the client); its failure is the client's: noted, and the
        request's task cancelled unless this is that task."""
        try:
            return await step
        except Abandoned:
            raise
        except Exception as exc:  # ProxyError (408, 413, 400), ClientDisconnected
            self.failure = exc
            self._abandon(f"the client's upload failed: {exc}")

    def _abandon(self, why: str) -> NoReturn:
        """End the attempt without the upstream (or the router) taking the blame: cancel
        the request's task, which the route answers.  Where the body is sent from that
        task itself (a transport without a writer task), the cancellation is raised."""
        task = self._task
        if task is not None and task is asyncio.current_task():
            raise asyncio.CancelledError(why)
        if task is not None and not task.done():
            task.cancel()
        raise Abandoned(why)

    # -- the route's side -------------------------------------------------------------------

    async def receive_all(self) -> None:
        """Read the whole file into the spool, and the rest of the form (before a call:
        when the form named its model only after the file)."""
        while not self._file_done:
            await self._pull()
        await self._read_rest()
        self._fields_known = True

    def detach(self) -> None:
        """The call is over: a read still running (an attempt's body the upstream did not
        wait for) may fail, but no longer cancels the request."""
        self._task = None

    def close(self) -> None:
        self._spool.close()
