"""Reading a client's ``multipart/form-data`` body as it arrives: a pull parser of events.

python-multipart parses the bytes (it pushes callbacks); :class:`FormReader` turns them
into events pulled one at a time -- a field (whole), the start of the file part, a piece of
its data (a piece of what the client sent: never the whole file), its end, the form's end
-- reading more of the body only when it has none left.  The limits hold as the bytes
come: the file (``max_file``), each field (``MAX_FIELD``), the whole body (the file plus
``FORM_SLACK``), the number of parts, and the client's pace (``client_timeout``).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from gatewise.proxy._asgi import ClientDisconnected, Receive, Scope, header, too_slow
from gatewise.proxy.errors import ProxyError, bad_request
from gatewise.router._deadline import PerLoop

MAX_FIELD = 64 * 1024
"""Bytes of a form field other than the file."""
FORM_SLACK = 1024 * 1024
"""Bytes a form may hold besides its file (fields, part headers, boundaries)."""
MAX_PARTS = 64
FILE_FIELD = "file"

Event = tuple[Any, ...]
"""``("field", name, value)``, ``("file", filename, content_type)``, ``("data", bytes)``,
``("file_end",)``, ``("end",)``."""


def too_large(limit: int) -> ProxyError:
    return ProxyError(413, f"the audio file is larger than the proxy's limit of {limit} bytes "
                           "(general_settings.max_audio_upload_bytes)",
                      code="request_too_large", headers=[(b"connection", b"close")])


def boundary_of(scope: Scope) -> bytes:
    kind, options = parse_options_header(header(scope, b"content-type") or b"")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise bad_request("the request must be a multipart/form-data form (OpenAI's "
                          "transcription request: a `file` part and fields such as `model`)")
    return boundary


class FormReader:
    """The events of one form, pulled with :meth:`next`."""

    def __init__(self, scope: Scope, receive: Receive, *, max_file: int,
                 deadlines: PerLoop, client_timeout: float) -> None:
        self._receive = receive
        self._deadlines = deadlines
        self._timeout = client_timeout
        self.max_file = max_file
        self._max_body = max_file + FORM_SLACK
        length = header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self._max_body:
            raise too_large(max_file)
        self._events: deque[Event] = deque()
        self._received = 0
        self._file_bytes = 0
        self._more = True  # the client has more of the body to send
        self._parts = 0
        self._headers: dict[bytes, bytes] = {}
        self._header = [b"", b""]
        self._kind = ""  # of the current part: "field" or "file"
        self._name = ""
        self._value = bytearray()
        self._seen_file = False
        self._parser = MultipartParser(boundary_of(scope), {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end, "on_end": self._end})

    async def next(self) -> Event:
        """The next event, reading more of the body as needed."""
        while not self._events:
            if not self._more:
                raise bad_request("the multipart form ended before its closing boundary")
            try:
                with self._deadlines.within(self._timeout):
                    message = await self._receive()
            except TimeoutError:
                raise too_slow(self._timeout) from None
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = message.get("body", b"")
            self._received += len(chunk)
            if self._received > self._max_body:
                raise too_large(self.max_file)
            self._more = bool(message.get("more_body"))
            try:
                self._parser.write(chunk)
                if not self._more:
                    self._parser.finalize()
            except MultipartParseError as exc:
                raise bad_request(f"the multipart form cannot be read: {exc}") from None
        return self._events.popleft()

    # -- parser callbacks (each may raise ProxyError: it leaves write() as it is) ----------

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise bad_request(f"the form has more than {MAX_PARTS} parts")
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header[0] += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._header[1] += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header[0].lower()] = self._header[1]
        self._header = [b"", b""]

    def _headers_finished(self) -> None:
        _, disposition = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        if self._name != FILE_FIELD or filename is None:  # a text `file`: refused later
            if filename is not None:
                raise bad_request(f"unexpected file in form field `{self._name[:100]}`: the "
                                  f"audio goes in `{FILE_FIELD}`", param=self._name[:100])
            self._kind, self._value = "field", bytearray()
            return
        if self._seen_file:
            raise bad_request("the form has more than one `file`", param=FILE_FIELD)
        self._seen_file = True
        self._kind = "file"
        kind = self._headers.get(b"content-type", b"application/octet-stream")
        name = filename.decode("utf-8", "replace") or "audio"
        self._events.append(("file", name, kind.decode("latin-1")))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._kind == "file":
            self._file_bytes += end - start
            if self._file_bytes > self.max_file:
                raise too_large(self.max_file)
            self._events.append(("data", data[start:end]))
            return
        self._value += data[start:end]
        if len(self._value) > MAX_FIELD:
            raise ProxyError(413, f"form field `{self._name[:100]}` is larger than "
                                  f"{MAX_FIELD} bytes", param=self._name[:100],
                             code="request_too_large")

    def _part_end(self) -> None:
        if self._kind == "file":
            self._events.append(("file_end",))
            return
        try:
            value = self._value.decode()
        except UnicodeDecodeError:
            raise bad_request(f"form field `{self._name[:100]}` is not UTF-8 text",
                              param=self._name[:100]) from None
        self._events.append(("field", self._name, value))

    def _end(self) -> None:
        self._events.append(("end",))
