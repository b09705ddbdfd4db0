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
"""

from __future__ import annotations

import re
from typing import NamedTuple

# What follows a plain event's text, once the noise is cut.
SUFFIX = b'"},"finish_reason":null}]}\n\n'
_TEXT_END = b'"},"finish_reason":null'  # in every plain event, in no other kind
_EMPTY = b'"content":"' + SUFFIX
_SUFFIX_MARKS = SUFFIX.count(b'"') + SUFFIX.count(b"\n")
_NOT_MARKS = bytes(b for b in range(256) if b not in b'"\n')  # deleted: quotes and \n stay
_LOGPROBS = b',"logprobs":null}]'
_PADDING = re.compile(rb',"p":"[A-Za-z0-9_-]*"}\n\n')


class Head(NamedTuple):
    """What a stream's plain events look like around their text, made once per stream."""

    head: bytes  # the bytes before a plain event's text
    seam: bytes  # SUFFIX + head: where one plain event ends and the next begins
    marks: int  # the quotes and line breaks of one plain event, less its text's


def head_of(empty: bytes) -> Head:
    """From the translator's own encoding of a plain event with no text (so the two ways
    cannot drift apart)."""
    if not empty.endswith(SUFFIX):
        raise AssertionError(f"a plain event no longer ends with {SUFFIX!r}: {empty!r}")
    head = empty[:-len(SUFFIX)]
    return Head(head, SUFFIX + head, head.count(b'"') + _SUFFIX_MARKS)


def _denoised(run: bytes) -> bytes:
    if b'"logprobs"' in run:
        run = run.replace(_LOGPROBS, b"}]")
    if b'"p":"' in run:
        run = _PADDING.sub(b"}\n\n", run)
    return run


def _checked(run: bytes, head: Head, tags: bool = True) -> bytes | None:
    """``run`` (whole events, the first starting with ``head``) without noise if every
    event in it is a plain text event whose text holds no ``<`` (when ``tags``: text that
    may hold ``<think>`` tags for the translator to split; FIM's code has none); else None.

    Each check is one C-level pass over the bytes: every event but the first is ``head``
    right after the previous one's ``SUFFIX`` (one count of ``SUFFIX + head`` finds each
    seam), the run ends with ``SUFFIX``; no empty text (the translator drops those); no
    ``<``; and no quote or line break but those of the heads and suffixes and the text's
    escaped quotes -- so nothing else between a head and its suffix: no other event or
    line, no extra key such as ``tool_calls``.  A quote after a single backslash is an
    escaped one; a quote after two or more (a text ending with a backslash, ``\\\\"``)
    sends the run the decoding way: counting it as escaped could balance a stray quote
    elsewhere in the run.  The upstream's JSON is taken as well formed: what is checked is
    each event's kind.
    """
    first = run.find(b"\n\n") + 2
    if run[first - len(SUFFIX):first] != SUFFIX:
        run = _denoised(run)
    if not run.endswith(SUFFIX) or _EMPTY in run or (tags and b"<" in run):
        return None  # "<": maybe a <think> tag, the translator's splitter decides
    marks = (run.count(head.seam) + 1) * head.marks
    if b"\\" in run:
        if (tags and b"\\u003" in run) or b'\\\\"' in run:
            # maybe \u003c, a "<"; or a quote after an escaped backslash (`\\"` ends a
            # text that ends with a backslash): not an escaped quote, see below
            return None
        marks += run.count(b'\\"')  # every quote after one backslash is an escaped one
    return run if len(run.translate(None, _NOT_MARKS)) == marks else None


def plain_run(data: bytes, pos: int, head: Head, *, bulk: bool, tags: bool = True
              ) -> tuple[bytes, int]:
    """The plain text events at ``data[pos:]`` as OpenAI SSE bytes, and where they end:
    with ``bulk``, up to the last event that looks plain (all must be); else one event.
    ``(b"", pos)`` when the event at ``pos`` is not one.  ``tags``: see :func:`_checked`."""
    if not data.startswith(head.head, pos):
        return b"", pos
    if bulk:
        last = data.rfind(_TEXT_END, pos)
        end = data.find(b"\n\n", last) + 2 if last >= 0 else 1
    else:
        end = data.find(b"\n\n", pos) + 2
    if end <= pos + len(head.head):
        return b"", pos
    run = _checked(data[pos:end], head, tags)
    return (b"", pos) if run is None else (run, end)
