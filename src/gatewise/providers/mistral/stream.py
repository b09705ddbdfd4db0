"""``stream_translator``: Mistral stream chunks -> OpenAI ``chat.completion.chunk`` dicts (§5).

Mistral streams like OpenAI with four differences handled here: tool calls arrive whole
and without ``index``/``type``; reasoning arrives as ``thinking`` chunk lists (or as
``<think>`` text from instructed models); usage always rides on the last chunk, while an
OpenAI client that sent ``stream_options={"include_usage": True}`` expects it once, alone,
in a final chunk with no choices; and chunks carry padding (``p``) and ``logprobs`` noise.
"""

from __future__ import annotations

from gatewise._exceptions import InternalServerError
from gatewise._relay import encode_event
from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.base import JSON
from gatewise.providers.mistral.passthrough import Head, head_of, plain_run
from gatewise.providers.mistral.reasoning import ThinkSplitter
from gatewise.providers.mistral.response import (
    finish_reason,
    split_content,
    tool_call,
    translate_usage,
)


class _ChoiceState:
    __slots__ = ("finished", "said_role", "splitter", "tool_calls_seen")

    def __init__(self) -> None:
        self.said_role = False
        self.finished = False
        self.tool_calls_seen = 0
        self.splitter = ThinkSplitter()


class MistralStreamTranslator:
    """One per stream: ``feed`` each decoded event, then ``finish`` once."""

    def __init__(self, model: str, *, usage_chunk_at_end: bool) -> None:
        self._model = model
        self._usage_chunk_at_end = usage_chunk_at_end
        self._id = ""
        self._created = 0
        self._choices: dict[int, _ChoiceState] = {}
        self._head: Head | None = None  # made at the first chance of a plain event
        # _head while the next event may be plain, else None; worked out in passthrough
        # after each feed (only feed changes it; nothing is relayed after finish).
        self._plain: Head | None = None
        self._stale = True
        self.usage: JSON | None = None  # the stream's usage (OpenAI's shape), once seen

    def _chunk(self, choices: list[JSON]) -> JSON:
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                "model": self._model, "choices": choices}

    def feed(self, event: JSON) -> list[JSON]:
        self._stale = True  # whether the next event may be plain: worked out again if asked
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
            if isinstance(raw, dict):
                choice = self._choice(raw, position)
                if choice is not None:
                    choices.append(choice)

        usage = event.get("usage")
        if isinstance(usage, dict):
            self.usage = translate_usage(usage)
            if not self._usage_chunk_at_end:
                chunk = self._chunk(choices)
                chunk["usage"] = self.usage
                return [chunk]
        return [self._chunk(choices)] if choices else []

    def passthrough(self, data: bytes, pos: int, limit: int) -> tuple[bytes, int]:
        """Plain text events at ``data[pos:limit]`` (SSE bytes) as OpenAI SSE bytes, without
        decoding them (see ``passthrough.py``), and where they end; ``(b"", pos)`` when
        the next event needs :meth:`feed`."""
        if self._stale:  # only an event fed changes whether the next may be plain
            self._plain, self._stale = self._plain_head(), False
        head = self._plain
        if head is None:
            return b"", pos
        return plain_run(data, pos, limit, head)

    def _plain_head(self) -> Head | None:
        """The head of the plain events that may come next, or None if the next event must
        be decoded whatever it is."""
        state = self._choices.get(0)
        if (state is None or not state.said_role or state.finished or not self._id
                or not state.splitter.idle):
            return None
        if self._head is None:
            self._head = head_of(encode_event(self._chunk(
                [{"index": 0, "delta": {"content": ""}, "finish_reason": None}])))
        return self._head

    def _choice(self, raw: JSON, position: int) -> JSON | None:
        index = raw.get("index")
        if not isinstance(index, int):
            index = position
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _ChoiceState()
        delta = raw.get("delta")
        if not isinstance(delta, dict):
            delta = {}

        out: JSON = {}
        if not state.said_role:
            out["role"] = "assistant"
        reasoning, content = split_content(delta.get("content"), state.splitter)
        reason = finish_reason(raw.get("finish_reason"))
        if reason is not None:
            more_reasoning, more_content = state.splitter.flush()
            reasoning += more_reasoning
            content += more_content
            state.finished = True
        if content or not state.said_role:
            out["content"] = content
        if reasoning:
            out["reasoning_content"] = reasoning
        calls = delta.get("tool_calls")
        if isinstance(calls, list) and calls:
            translated = []
            for call in calls:
                converted = tool_call(call, state.tool_calls_seen)
                if converted is not None:
                    translated.append(converted)
                    state.tool_calls_seen += 1
            if translated:
                out["tool_calls"] = translated
        if not out and reason is None:
            return None  # nothing to say yet (e.g. only part of a tag so far)
        state.said_role = True
        return {"index": index, "delta": out, "finish_reason": reason}

    def finish(self) -> list[JSON]:
        """Release text held back by unfinished choices, then the usage-only chunk."""
        out: list[JSON] = []
        tails = []
        for index, state in self._choices.items():
            if state.finished:
                continue
            reasoning, content = state.splitter.flush()
            delta: JSON = {}
            if content:
                delta["content"] = content
            if reasoning:
                delta["reasoning_content"] = reasoning
            if delta:
                tails.append({"index": index, "delta": delta, "finish_reason": None})
        if tails:
            out.append(self._chunk(tails))
        if self._usage_chunk_at_end and self.usage is not None:
            chunk = self._chunk([])
            chunk["usage"] = self.usage
            out.append(chunk)
        return out


def stream_translator(
    model: str, params: JSON, model_info: ModelInfo | None = None
) -> MistralStreamTranslator:
    """A translator for one stream of ``model`` requested with ``params``."""
    options = params.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return MistralStreamTranslator(model, usage_chunk_at_end=include_usage)
