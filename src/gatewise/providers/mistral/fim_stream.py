"""``fim_stream_translator``: a Mistral FIM stream -> OpenAI ``text_completion`` chunks.

Mistral streams FIM like chat (``chat.completion.chunk`` events, the middle in
``delta.content``, usage on the last event).  OpenAI's legacy completions stream
``text_completion`` chunks: ``choices[].text``, no role, usage (when
``stream_options.include_usage`` asks) in a last chunk with no choices.  Without that
option, usage rides on the chunk that finishes, as for chat.

The relay's fast path (``passthrough``): a run of plain text events is recognised by the
chat machinery (:func:`passthrough.plain_run`; code may hold ``<``: no ``<think>`` tags
here) and rewritten as a whole, its chat head and tail swapped for the text chunk's,
without decoding an event.  Both ways give the same events.
"""

from __future__ import annotations

from gatewise._exceptions import InternalServerError
from gatewise._relay import encode_event
from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.base import JSON
from gatewise.providers.mistral.fim import text_choice
from gatewise.providers.mistral.passthrough import SUFFIX, Head, head_of, plain_run
from gatewise.providers.mistral.response import finish_reason, translate_usage

TEXT_COMPLETION = "text_completion"


def _delta_text(delta: object) -> str:
    if not isinstance(delta, dict):
        return ""
    content = delta.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(c.get("text") or "" for c in content
                       if isinstance(c, dict) and c.get("type") == "text")
    return ""


class _Rewrite:
    """A stream's plain events in both shapes, made once per stream: Mistral's (the chat
    head, to recognise them) and ours (the text chunk's head and tail)."""

    __slots__ = ("head", "seam", "tail", "upstream")

    def __init__(self, upstream: Head, empty_text_event: bytes) -> None:
        self.upstream = upstream
        at = empty_text_event.index(b'"text":""') + len(b'"text":"')
        self.head, self.tail = empty_text_event[:at], empty_text_event[at:]
        self.seam = self.tail + self.head  # one event's tail and the next one's head

    def __call__(self, run: bytes) -> bytes:
        upstream = self.upstream
        texts = run[len(upstream.head):-len(SUFFIX)]
        # A seam holds line breaks, which a JSON string cannot: it is found only between
        # two events, never inside a text.
        return self.head + texts.replace(upstream.seam, self.seam) + self.tail


class FimStreamTranslator:
    """One per stream: ``feed`` each decoded event, then ``finish`` once."""

    def __init__(self, model: str, *, usage_chunk_at_end: bool) -> None:
        self._model = model
        self._usage_chunk_at_end = usage_chunk_at_end
        self._id = ""
        self._created = 0
        self._finished: set[int] = set()
        self._rewrite: _Rewrite | None = None  # made with the first plain chance
        self.usage: JSON | None = None

    def _chunk(self, choices: list[JSON]) -> JSON:
        return {"id": self._id, "object": TEXT_COMPLETION, "created": self._created,
                "model": self._model, "choices": choices}

    def feed(self, event: JSON) -> list[JSON]:
        if event.get("object") == "error":
            raise InternalServerError(f"Mistral reported an error mid-stream: "
                                      f"{event.get('message') or event}",
                                      provider="mistral", model=self._model, body=event)
        if not self._id:
            self._id = str(event.get("id") or "")
            created = event.get("created")
            self._created = created if isinstance(created, int) else 0
            if isinstance(event.get("model"), str) and event["model"]:
                self._model = event["model"]
        choices = []
        raw_choices = event.get("choices")
        for position, raw in enumerate(raw_choices if isinstance(raw_choices, list) else ()):
            if not isinstance(raw, dict):
                continue
            index = raw.get("index")
            index = index if isinstance(index, int) else position
            text = _delta_text(raw.get("delta"))
            reason = finish_reason(raw.get("finish_reason"))
            if reason is not None:
                self._finished.add(index)
            if text or reason is not None:
                choices.append(text_choice(text, reason, index))
        usage = event.get("usage")
        if isinstance(usage, dict):
            self.usage = translate_usage(usage)
            if not self._usage_chunk_at_end:
                chunk = self._chunk(choices)
                chunk["usage"] = self.usage
                return [chunk]
        return [self._chunk(choices)] if choices else []

    def passthrough(self, data: bytes, pos: int, *, bulk: bool) -> tuple[bytes, int]:
        """Plain text events at ``data[pos:]`` (Mistral SSE bytes) as ``text_completion``
        SSE bytes, and where they end; ``(b"", pos)`` when the next event needs
        :meth:`feed`."""
        if not self._id or 0 in self._finished:
            return b"", pos
        rewrite = self._rewrite
        if rewrite is None:
            rewrite = self._rewrite = self._make_rewrite()
        run, end = plain_run(data, pos, rewrite.upstream, bulk=bulk, tags=False)
        return (rewrite(run), end) if run else (b"", pos)

    def _make_rewrite(self) -> _Rewrite:
        # Mistral's plain event, as the chat translator recognises it (same keys and order).
        upstream = {"id": self._id, "object": "chat.completion.chunk",
                    "created": self._created, "model": self._model,
                    "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": None}]}
        ours = encode_event(self._chunk([text_choice("", None)]))
        return _Rewrite(head_of(encode_event(upstream)), ours)

    def finish(self) -> list[JSON]:
        if self._usage_chunk_at_end and self.usage is not None:
            chunk = self._chunk([])
            chunk["usage"] = self.usage
            return [chunk]
        return []


def fim_stream_translator(model: str, params: JSON, model_info: ModelInfo | None = None
                          ) -> FimStreamTranslator:
    """A translator for one FIM stream of ``model`` requested with ``params``."""
    options = params.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return FimStreamTranslator(model, usage_chunk_at_end=include_usage)
