"""A provider's SSE stream as OpenAI SSE bytes, a read at a time: what the proxy relays.

The SDK's streams decode every event, translate it and hand out chunk objects.  A relay
has no use for objects: it wants bytes out, and most of a stream's events (plain text
deltas) read the same in both shapes.  :class:`SseRelay` lets the provider's translator
pass such runs through as bytes (``passthrough``) and decodes, translates and encodes the
others, in order, so a read of 200 events costs a few C-level byte operations instead of
200 JSON round trips.  Both ways give the same events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from gatewise._exceptions import APIError
from gatewise._http._secrets import NO_SECRETS, Secrets
from gatewise._http._sse import EventDecoder

if TYPE_CHECKING:
    from gatewise.providers.base import StreamTranslator

JSON = dict[str, Any]

DONE = b"data: [DONE]\n\n"


def encode_event(chunk: JSON) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def encode_events(chunks: Iterable[JSON]) -> bytes:
    return b"".join(map(encode_event, chunks))


class SseRelay:
    """Feed the upstream's bytes as they come; get OpenAI SSE bytes for the events complete
    so far (a list of one block, or none).  ``done``/``error`` as :class:`EventDecoder`'s;
    ``finish()`` once the stream ended cleanly; ``usage`` once an event said it."""

    __slots__ = ("_decoder", "_failed", "_odd", "_rest", "_translator")

    def __init__(self, translator: StreamTranslator, secrets: Secrets = NO_SECRETS) -> None:
        self._translator = translator
        self._decoder = EventDecoder(secrets)
        self._rest = b""  # an event not complete yet
        self._odd = False  # framed with CR: every event goes the decoding way
        self._failed: APIError | None = None  # an error event: raised after what came first

    @property
    def done(self) -> bool:
        return self._decoder.done

    @property
    def error(self) -> Exception | None:
        return self._failed or self._decoder.error

    @property
    def usage(self) -> JSON | None:
        return self._translator.usage

    def feed(self, chunk: bytes) -> list[bytes]:
        error = self.error
        if error is not None:
            raise error
        if self._decoder.done:
            return []  # nothing after [DONE] counts, as for EventDecoder
        out: list[bytes] = []
        if self._odd:
            self._decode(chunk, out)
        else:
            self._relay(self._rest + chunk if self._rest else chunk, out)
        return [b"".join(out)] if out else []

    def _relay(self, data: bytes, out: list[bytes]) -> None:
        complete = data.rfind(b"\n\n") + 2
        if complete < 2:
            self._rest = data
            if b"\r" in data:  # CRLF framing: the decoder knows it, the fast path does not
                self._odd, self._rest = True, b""
                self._decode(data, out)
            return
        self._rest = data[complete:]
        passthrough = self._translator.passthrough
        decoder = self._decoder
        pos = 0
        # How far the next look may reach: the whole read at first (one look takes a read
        # of plain events).  A look that fails has either met an event to decode at its
        # start (a role, a finish: the usual case, seen at a glance) or one further on,
        # after reading its whole window; the relay cannot tell which.  So failed looks
        # may cover the read three times over (the usual few cost nothing to speak of);
        # past that, each looks half as far as the one before, and a look that passed
        # lets the next one go twice as far as it went.  A read full of events to decode
        # costs a small multiple of its bytes, never a look at the rest of the read for
        # each event (a 200-event read of texts with "<" once cost ~60 times one without).
        span = complete
        allowance = 3 * complete
        while pos < complete:
            limit = pos + span
            # To the end of the event that byte is in (one ends at ``complete``).
            limit = (data.find(b"\n\n", limit - 1, complete) + 2 if limit < complete
                     else complete)
            block, end = passthrough(data, pos, limit)
            if end == pos:
                one = data.find(b"\n\n", pos) + 2
                if limit > one:  # not known which event failed it: look at the first alone
                    allowance -= limit - pos
                    if allowance < 0:
                        span = (limit - pos) // 2
                    block, end = passthrough(data, pos, one)
                if end == pos:
                    self._decode(data[pos:one], out)
                    if decoder.done or self.error is not None:
                        return
                    pos = one
                    continue
            out.append(block)
            if end - pos > span >> 1:
                span = 2 * (end - pos)
            pos = end

    def _decode(self, data: bytes, out: list[bytes]) -> None:
        feed = self._translator.feed
        try:
            for event in self._decoder.feed(data):
                out.extend(encode_event(c) for c in feed(event))
        except APIError as exc:
            self._failed = exc

    def finish(self) -> list[bytes]:
        tail = encode_events(self._translator.finish())
        return [tail] if tail else []
