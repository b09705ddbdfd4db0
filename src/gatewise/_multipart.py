"""Multipart form bodies for uploads (transcriptions): the form's encoding, and the file
part's source, read a chunk at a time as the body is sent.

A :class:`MultipartBody` is an async iterable of bytes that starts again from the
beginning each time it is iterated: the HTTP layer iterates it once per attempt, so a
retried upload is sent again whole, never held whole in memory.  Its file part comes from
bytes, a path, a file object (read from where it stood when the call was made) or an
:class:`UploadSource` (the proxy's: a client's upload, relayed as it arrives).  The
blocking path sends :meth:`MultipartBody.to_bytes`.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from gatewise._exceptions import BadRequestError

CHUNK = 64 * 1024
"""Bytes read from a file at a time."""
DEFAULT_FILENAME = "upload"
_FILE_HELP = ("`file` must be a path, bytes, a binary file object or a (filename, content"
              "[, content_type]) tuple")


@runtime_checkable
class UploadSource(Protocol):
    """A file whose bytes come from elsewhere, as an async iterable that starts again from
    the beginning each time it is iterated (the proxy's relayed upload)."""

    filename: str
    content_type: str

    def __aiter__(self) -> AsyncIterator[bytes]: ...


Source = bytes | Path | IO[bytes] | UploadSource


@dataclass(frozen=True, slots=True)
class FilePart:
    filename: str
    content_type: str
    source: Source
    start: int = 0
    """For a file object: where its content starts (it is read from there each time)."""


def _guess_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def file_part(file: Any) -> FilePart:
    """``file`` as the form's file part, checked now (a missing path, a file object opened
    in text mode: a clear ``BadRequestError`` naming ``file``, before any network).  A
    file object is read from where it stands now: a router turns its ``file`` into a
    part once, so that every attempt reads from the same place."""
    if isinstance(file, FilePart):
        return file
    if isinstance(file, UploadSource):
        return FilePart(file.filename, file.content_type, file)
    if isinstance(file, tuple):
        if not 2 <= len(file) <= 3 or not isinstance(file[0], str | None):
            raise BadRequestError(_FILE_HELP, param="file")
        inner = file_part(file[1])
        filename = file[0] or inner.filename
        kind = file[2] if len(file) == 3 and file[2] else _guess_type(filename)
        return FilePart(filename, str(kind), inner.source, inner.start)
    if isinstance(file, bytes | bytearray | memoryview):
        return FilePart(DEFAULT_FILENAME, "application/octet-stream", bytes(file))
    if isinstance(file, str | os.PathLike):
        path = Path(file)
        if not path.is_file():
            raise BadRequestError(f"`file`: no such file: {str(path)[:200]}", param="file")
        return FilePart(path.name, _guess_type(path.name), path)
    read = getattr(file, "read", None)
    if callable(read):
        named: Any = getattr(file, "name", None)
        filename = (os.path.basename(named) if isinstance(named, str) and named
                    else DEFAULT_FILENAME)
        if isinstance(file, io.TextIOBase) or "b" not in getattr(file, "mode", "b"):
            raise BadRequestError("`file` is open in text mode; open it with 'rb'", param="file")
        seekable = getattr(file, "seekable", None)
        if callable(seekable) and seekable():
            return FilePart(filename, _guess_type(filename), file, file.tell())
        content = read()  # read once: a stream that cannot rewind could not be retried
        if not isinstance(content, bytes):
            raise BadRequestError(_FILE_HELP, param="file")
        return FilePart(filename, _guess_type(filename), content)
    raise BadRequestError(_FILE_HELP, param="file")


def _quoted(text: str) -> str:
    """A name in a Content-Disposition header, as browsers write it (WHATWG)."""
    return text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartBody:
    """A ``multipart/form-data`` body: ``fields`` (name, value) in order, then the file."""

    __slots__ = ("_head", "_part", "_tail", "content_type")

    replayable = True
    """Each iteration reads the file part afresh (a path, bytes, a file object from its
    start, or the proxy's spooled upload): the HTTP layer may send it again."""

    def __init__(self, fields: list[tuple[str, str]], part: FilePart | None) -> None:
        boundary = "gatewise-" + os.urandom(12).hex()
        self.content_type = f"multipart/form-data; boundary={boundary}"
        head = [f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"'
                f"\r\n\r\n{value}\r\n" for name, value in fields]
        if part is not None:
            head.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                        f'filename="{_quoted(part.filename)}"\r\n'
                        f"Content-Type: {_quoted(part.content_type)}\r\n\r\n")
        self._head = "".join(head).encode()
        end_of_file = "\r\n" if part is not None else ""
        self._tail = f"{end_of_file}--{boundary}--\r\n".encode()
        self._part = part

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        yield self._head
        if self._part is not None:
            async for chunk in _read(self._part):
                yield chunk
        yield self._tail

    def to_bytes(self) -> bytes:
        """The whole body, for the blocking path (an :class:`UploadSource` needs the
        asyncio one)."""
        part = self._part
        if part is None:
            return self._head + self._tail
        source = part.source
        if isinstance(source, UploadSource):
            raise TypeError("a streamed upload source can only be sent by the asyncio client")
        if isinstance(source, bytes):
            content = source
        elif isinstance(source, Path):
            content = source.read_bytes()
        else:
            source.seek(part.start)
            content = source.read()
        return b"".join((self._head, content, self._tail))


async def _read(part: FilePart) -> AsyncIterator[bytes]:
    """The file part's content, a chunk at a time; files are read off the event loop."""
    source = part.source
    if isinstance(source, bytes):
        for start in range(0, len(source), CHUNK):
            yield source[start:start + CHUNK]
    elif isinstance(source, UploadSource):
        async for chunk in source:
            yield chunk
    elif isinstance(source, Path):
        with source.open("rb") as file:
            while chunk := await asyncio.to_thread(file.read, CHUNK):
                yield chunk
    else:
        await asyncio.to_thread(source.seek, part.start)
        while chunk := await asyncio.to_thread(source.read, CHUNK):
            yield chunk
