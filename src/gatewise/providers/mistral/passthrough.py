"""Plain text stream events relayed as bytes, without decoding them one by one.

Once a stream has said who it is (id, created, model) and its first choice is past its
first words, almost every Mistral event is a plain text delta that, as OpenAI SSE, reads
byte for byte the same::

    data: {"id":"…","object":"chat.completion.chunk","created":…,"model":"…",
           "choices":[{"index":0,"delta":{"content":"…"},"finish_reason":null}]}

Mistral may add ``"logprobs":null`` to the choice and a padding field ``"p"`` at the end
(§5); the translator drops both, so they are cut here too.  :func:`plain_run` checks a
whole run of such events with a handful of C-level byte operations and returns them as
they are (less the noise).  Anything else -- a role, a finish reason, usage, tool calls,
thinking, ``<`` that might open a ``<think>`` tag, another choice, an unexpected key or
encoding -- is left to the translator, which decodes it.  Output is the same either way
(the text is the upstream's JSON string, escaped as the upstream escaped it).

Every check here looks only at ``data[pos:limit]``, the window the relay gives: what one
call costs is bounded by its window, and the relay keeps the windows it looks at linear
in a read (``gatewise._relay``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

# What follows a plain event's text, once the noise is cut.
SUFFIX = b'"},"finish_reason":null}]}\n\n'
_TEXT_END = b'"},"finish_reason":null'  # in every plain event, in no other kind
_TEXT_START = b'"content":"'  # how a plain event's head ends (as long as what it checks)
_EMPTY = _TEXT_START + SUFFIX
_SUFFIX_MARKS = SUFFIX.count(b'"') + SUFFIX.count(b"\n")
_NOT_MARKS = bytes(b for b in range(256) if b not in b'"\n')  # deleted: quotes and \n stay
_NOT_TAG_MARKS = bytes(b for b in range(256) if b not in b'"\n<')  # ... and "<" stays
_LOGPROBS = b',"logprobs":null}]'
_PADDING = re.compile(rb',"p":"[A-Za-z0-9_-]*"}\n\n')


class Head(NamedTuple):
    """What a stream's plain events look like around their text, made once per stream."""

    head: bytes  # the bytes before a plain event's text
    seam: bytes  # SUFFIX + head: where one plain event ends and the next begins
    marks: int  # the quotes and line breaks of one plain event, less its text's
    pattern: bytes  # those quotes and line breaks, in order (see _clean)
    empty: bytes  # the end of a head and the start of a suffix: an empty text between


def head_of(empty: bytes) -> Head:
    """From the translator's own encoding of a plain event with no text (so the two ways
    cannot drift apart)."""
    if not empty.endswith(SUFFIX):
        raise AssertionError(f"a plain event no longer ends with {SUFFIX!r}: {empty!r}")
    head = empty[:-len(SUFFIX)]
    return Head(head, SUFFIX + head, head.count(b'"') + _SUFFIX_MARKS,
                empty.translate(None, _NOT_MARKS), head[-len(_TEXT_START):] + SUFFIX[:1])


def _clean(data: bytes, pos: int, limit: int, head: Head, tags: bool) -> bytes | None:
    """``data[pos:limit]`` without noise if it is all plain text events whose texts hold
    no quote (escaped or not), no raw line break, no ``<`` and no ``\\u003`` (the last
    two with ``tags``): the usual read, checked in a few C-level passes (about 1.5 µs for a
    paced read of one event, against 2.5 for the closer look); else None
    (:func:`plain_run` looks closer).  An escaped line break or tab (``\\n``) is fine.

    Its quotes and line breaks (and ``<``), in order, must be exactly those of as many
    empty plain events as it has seams, plus one: the heads and suffixes then hold every
    one of them (a head or suffix overlapping another would leave fewer), so nothing
    else is between a head and its suffix but a text free of them, and nothing between
    an event's suffix and the next one's head.
    """
    if data.endswith(SUFFIX, pos, limit):
        run = data[pos:limit] if pos or limit != len(data) else data
    else:  # noise, or a last event that is not plain (a finish): the last event tells
        last = max(pos, data.rfind(b"\n\n", pos, limit - 2) + 2)
        if not _denoised(data[last:limit]).endswith(SUFFIX):
            return None
        run = _denoised(data[pos:limit])
    seams = run.count(head.seam)
    # With tags, "<" is kept too: any fails the comparison with the pattern, which has
    # none (a head that held one would only send every read the closer way).
    if run.translate(None, _NOT_TAG_MARKS if tags else _NOT_MARKS) != head.pattern * (
            seams + 1):
        return None
    if tags:
        slash = run.find(b"\\")
        if slash >= 0 and run.find(b"\\u003", slash) >= 0:
            return None
    # An empty text (the translator drops it): a head's end right against its suffix.
    if len(run) == len(head.head) + len(SUFFIX) if not seams else head.empty in run:
        return None
    return run


def _denoised(run: bytes) -> bytes:
    if b'"logprobs"' in run:
        run = run.replace(_LOGPROBS, b"}]")
    if b'"p":"' in run:
        run = _PADDING.sub(b"}\n\n", run)
    return run


def _odd_escape(data: bytes, slash: int, limit: int, tags: bool) -> int:
    """Where in ``data[slash:limit]`` (``slash``: its first backslash) the first escape is
    that sends its event the decoding way (-1: none): with ``tags``, ``\\u003`` (maybe
    ``\\u003c``, a ``<``); and a quote after an escaped backslash (``\\\\"`` ends a text
    that ends with a backslash: not an escaped quote, see :func:`_checked`).  Each search
    stops at the first find of the one before it."""
    odd = -1
    for needle in ((b"\\u003", b'\\\\"') if tags else (b'\\\\"',)):
        found = data.find(needle, slash, limit)
        if found >= 0:
            odd = limit = found
    return odd


def _checked(run: bytes, head: Head) -> bytes | None:
    """``run`` (whole events, the first starting with ``head``, none holding what
    :func:`plain_run` cuts before) without noise if every event in it is a plain text
    event; else None.

    Each check is one C-level pass over the bytes: every event but the first is ``head``
    right after the previous one's ``SUFFIX`` (one count of ``SUFFIX + head`` finds each
    seam), the run ends with ``SUFFIX``; no empty text (the translator drops those); and no
    quote or line break but those of the heads and suffixes and the text's escaped quotes
    -- so nothing else between a head and its suffix: no other event or line, no extra key
    such as ``tool_calls``.  Every quote after a backslash is an escaped one (a quote after
    an escaped backslash, ``\\\\"``, never gets here: counting it as escaped could
    balance a stray quote elsewhere in the run).  The upstream's JSON is taken as well
    formed: what is checked is each event's kind.
    """
    first = run.find(b"\n\n") + 2
    if run[first - len(SUFFIX):first] != SUFFIX:
        run = _denoised(run)
    if not run.endswith(SUFFIX) or _EMPTY in run:
        return None
    marks = (run.count(head.seam) + 1) * head.marks
    if b"\\" in run:
        marks += run.count(b'\\"')  # every quote after a backslash is an escaped one
    return run if len(run.translate(None, _NOT_MARKS)) == marks else None


def plain_run(data: bytes, pos: int, limit: int, head: Head, *, tags: bool = True
              ) -> tuple[bytes, int]:
    """The plain text events at the start of ``data[pos:limit]`` (whole events: ``limit``
    is the end of one) as OpenAI SSE bytes, and where they end: all of them, or those
    before the first event holding ``<`` (with ``tags``) or an escape :func:`_odd_escape`
    finds; ``(b"", pos)`` when the event at ``pos`` is not plain, or some event in the run
    is not and :func:`_checked` cannot tell which (the relay then looks at a shorter
    window).  ``tags``: whether texts may hold ``<think>`` tags (chat: yes; FIM's code:
    no).  Nothing past ``limit`` is looked at."""
    if not data.startswith(head.head, pos):
        return b"", pos
    run = _clean(data, pos, limit, head, tags)
    if run is not None:
        return run, limit
    # The run ends before the first event holding "<" (maybe a <think> tag: the
    # translator's splitter decides) or an escape _odd_escape finds.  Each search stops
    # at the first find of the one before it: a window is read a few times at most,
    # however many such events it holds.
    odd = data.find(b"<", pos, limit) if tags else -1
    before = limit if odd < 0 else odd
    slash = data.find(b"\\", pos, before)
    if slash >= 0:
        escape = _odd_escape(data, slash, before, tags)
        if escape >= 0:
            odd = escape
    if odd >= 0:
        limit = data.rfind(b"\n\n", pos, odd) + 2
        if limit < pos + 2:
            return b"", pos
    last = data.rfind(_TEXT_END, pos, limit)
    if last < 0:
        return b"", pos
    end = data.find(b"\n\n", last, limit) + 2
    if end <= pos + len(head.head):
        return b"", pos
    run = _checked(data[pos:end], head)
    return (b"", pos) if run is None else (run, end)
