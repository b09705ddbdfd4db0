"""``fim_stream_translator``: a Mistral FIM stream -> OpenAI ``text_completion`` chunks.

Mistral streams FIM like chat (``chat.completion.chunk`` events, the middle in
``delta.content``, usage on the last event).  OpenAI's legacy completions stream
``text_completion`` chunks: ``choices[].text``, no role, usage (when
``stream_options.include_usage`` asks) in a last chunk with no choices.  Without that
option, usage rides on the chunk that finishes, as for chat.

The relay's fast path (``passthrough``): a run of plain text events is recognised by the
chat machinery (:func:`passthrough.plain_run`; code may hold ``<``: no ``<think>`` tags
here) and rewritten as a whole by three swaps of constant bytes (the object, the delta,
the tail), without decoding an event.  Both ways give the same events.
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


# Mistral's plain event -> ours, by three swaps of constant bytes.  Each holds quotes that
# are not escaped, so (in a run whose quotes passthrough.plain_run has counted) it is found
# only in the events' heads and tails, never in a text.  Short patterns: bytes.replace
# costs several times more per match with a needle over 100 bytes (a whole seam).
_SWAPS = ((b',"object":"chat.completion.chunk",', b',"object":"text_completion",'),
          (b'"delta":{"content":"', b'"text":"'),
          (SUFFIX, b'","logprobs":null,"finish_reason":null}]}\n\n'))


def _rewritten(run: bytes) -> bytes:
    for old, new in _SWAPS:
        run = run.replace(old, new)
    return run


class FimStreamTranslator:
    """One per stream: ``feed`` each decoded event, then ``finish`` once."""

    def __init__(self, model: str, *, usage_chunk_at_end: bool) -> None:
        self._model = model
        self._usage_chunk_at_end = usage_chunk_at_end
        self._id = ""
        self._created = 0
        self._finished: set[int] = set()
        self._head: Head | None = None  # Mistral's plain event head, made when first needed
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

    def passthrough(self, data: bytes, pos: int, limit: int) -> tuple[bytes, int]:
        """Plain text events at ``data[pos:limit]`` (Mistral SSE bytes) as ``text_completion``
        SSE bytes, and where they end; ``(b"", pos)`` when the next event needs
        :meth:`feed`."""
        if not self._id or 0 in self._finished:
            return b"", pos
        head = self._head
        if head is None:
            head = self._head = self._plain_head()
        run, end = plain_run(data, pos, limit, head, tags=False)
        return (_rewritten(run), end) if run else (b"", pos)

    def _plain_head(self) -> Head:
        """Mistral's plain event as the chat translator knows it (same keys, same order);
        checked once against our own encoding, so the two ways cannot drift apart."""
        def upstream(text: str) -> bytes:
            return encode_event({
                "id": self._id, "object": "chat.completion.chunk", "created": self._created,
                "model": self._model,
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})

        ours = encode_event(self._chunk([text_choice("x", None)]))
        if _rewritten(upstream("x")) != ours:
            raise AssertionError(f"a plain FIM event no longer rewrites as {ours!r}")
        return head_of(upstream(""))

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
