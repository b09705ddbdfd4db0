"""Reasoning: how much to think (request side) and where the thoughts are (answer side).

Models think in one of three ways (``ModelInfo.reasoning``, reference §12):

* ``"native"``: ``reasoning_effort`` is sent; answers carry ``thinking`` content chunks.
* ``"instructed"``: a system instruction asks for ``<think>…</think>`` in plain text.
* ``"none"`` (and unknown models): there is nothing to ask for; the parameter is dropped.

:class:`ThinkSplitter` separates ``<think>`` text from the answer; the non-streamed parser
runs the very same machine over the whole string, so streamed and non-streamed answers
split identically by construction.
"""

from __future__ import annotations

from typing import Any

from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.base import JSON
from gatewise.providers.mistral.checks import bad

REASONING_INSTRUCTION = (
    "When solving problems, think step-by-step in <think> tags before providing your final "
    "answer. Write your reasoning between <think> and </think>, like a draft on scratch "
    "paper: explore the problem, check your steps and take as long as you need. After the "
    "closing </think> tag, give the user your final answer as a clear, self-contained "
    "response that does not repeat all of the reasoning. Write both in the language of the "
    "user."
)

# OpenAI's scale plus Mistral's "max" (SDK 3.7.0), weakest first.
EFFORT_SCALE = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
_RANK = {level: rank for rank, level in enumerate(EFFORT_SCALE)}
# What the public spec's ReasoningEffort enum accepts, for native models with no list.
_SPEC_LEVELS = ("none", "minimal", "low", "medium", "high", "xhigh")

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


def requested_effort(params: JSON) -> str | None:
    """The effort the caller asked for, from ``reasoning_effort`` or Anthropic's ``thinking``.

    ``thinking={"type": "enabled", ...}`` means "high" (Mistral has no token budget, so
    ``budget_tokens`` is ignored); ``{"type": "disabled"}`` means "none".
    """
    effort = params.get("reasoning_effort")
    if effort is not None:
        if not isinstance(effort, str) or effort not in _RANK:
            raise bad("reasoning_effort",
                      f"{effort!r} is not one of {', '.join(EFFORT_SCALE)}")
        return effort
    thinking = params.get("thinking")
    if thinking is None:
        return None
    if not isinstance(thinking, dict):
        raise bad("thinking", "expected {'type': 'enabled'} or {'type': 'disabled'}")
    kind = thinking.get("type")
    if kind in ("enabled", "adaptive"):
        return "high"
    if kind == "disabled":
        return "none"
    raise bad("thinking.type", f"expected 'enabled' or 'disabled' (got {kind!r})")


def nearest_level(effort: str, levels: tuple[str, ...]) -> str:
    """The accepted level closest to ``effort`` on :data:`EFFORT_SCALE`; ties go higher."""
    known = [level for level in levels if level in _RANK] or list(_SPEC_LEVELS)
    if effort in known:
        return effort
    target = _RANK[effort]
    return min(known, key=lambda level: (abs(_RANK[level] - target), -_RANK[level]))


def reasoning_style(model_info: ModelInfo | None) -> str:
    return model_info.reasoning if model_info is not None else "none"


def native_effort(effort: str | None, model_info: ModelInfo | None) -> str | None:
    """The ``reasoning_effort`` to send, or None to send nothing."""
    if effort is None or model_info is None or model_info.reasoning != "native":
        return None
    return nearest_level(effort, model_info.reasoning_effort_levels)


def wants_instruction(effort: str | None, model_info: ModelInfo | None) -> bool:
    return effort not in (None, "none") and reasoning_style(model_info) == "instructed"


def prepend_instruction(messages: list[JSON]) -> list[JSON]:
    """Put :data:`REASONING_INSTRUCTION` in front of the system prompt (a new list)."""
    if messages and messages[0]["role"] == "system":
        system = messages[0]
        content: Any = system["content"]
        if isinstance(content, list):
            content = [{"type": "text", "text": REASONING_INSTRUCTION + "\n\n"}, *content]
        elif content:
            content = f"{REASONING_INSTRUCTION}\n\n{content}"
        else:
            content = REASONING_INSTRUCTION
        return [{**system, "content": content}, *messages[1:]]
    return [{"role": "system", "content": REASONING_INSTRUCTION}, *messages]


def thinking_chunk(text: str) -> JSON:
    return {"type": "thinking", "thinking": [{"type": "text", "text": text}]}


def thinking_text(chunk: JSON) -> str:
    """The text inside a Mistral ``thinking`` chunk (its parts may also be references)."""
    parts = chunk.get("thinking")
    if isinstance(parts, str):
        return parts
    if not isinstance(parts, list):
        return ""
    return "".join(p["text"] for p in parts
                   if isinstance(p, dict) and isinstance(p.get("text"), str))


class ThinkSplitter:
    """Splits text carrying ``<think>…</think>`` into (reasoning, content) pieces.

    Feed pieces in order; each call returns what can be said so far.  Only a possible
    partial tag at the end of a piece is held back (plus whitespace that may turn out to
    be trailing, see below).  Whitespace rules, the same streamed or not: a think block's
    leading and trailing whitespace is dropped, blocks are joined by a blank line, the
    content right after ``</think>`` loses its leading whitespace, and whitespace before
    the first ``<think>`` at the very start of the message is dropped.  An unclosed
    ``<think>`` makes everything after it reasoning.
    """

    __slots__ = ("_held", "_inside", "_lead_ws", "_new_block", "_pending_ws",
                 "_said_content", "_said_reasoning", "_skip_ws")

    def __init__(self) -> None:
        self._inside = False
        self._held = ""  # a possible partial tag at the end of the last piece
        self._pending_ws = ""  # whitespace inside a block that may be trailing
        self._lead_ws = ""  # whitespace at the start of the message, before any content
        self._skip_ws = False  # drop whitespace until the next non-space character
        self._new_block = False
        self._said_reasoning = False
        self._said_content = False

    @property
    def idle(self) -> bool:
        """Past the start, outside a think block, nothing held: text without ``<`` is
        content as it is."""
        return self._said_content and not (self._held or self._inside or self._skip_ws)

    def feed(self, text: str) -> tuple[str, str]:
        if "<" not in text and self.idle:
            return "", text  # the common case: plain answer text
        text = self._held + text
        self._held = ""
        reasoning: list[str] = []
        content: list[str] = []
        pos = 0
        while True:
            tag = CLOSE_TAG if self._inside else OPEN_TAG
            found = text.find(tag, pos)
            if found == -1:
                end = len(text) - _partial_tag_length(text, tag, pos)
                self._emit(text[pos:end], reasoning, content)
                self._held = text[end:]
                break
            self._emit(text[pos:found], reasoning, content)
            pos = found + len(tag)
            if self._inside:
                self._pending_ws = ""
            else:
                self._lead_ws = ""
                self._new_block = True
            self._inside = not self._inside
            self._skip_ws = True
        return "".join(reasoning), "".join(content)

    def flush(self) -> tuple[str, str]:
        """The end of the message: release what was held back."""
        reasoning: list[str] = []
        content: list[str] = []
        held, self._held = self._held, ""
        self._emit(held, reasoning, content)
        self._pending_ws = ""
        if self._lead_ws:  # the message was whitespace only: give it back as it was
            content.append(self._lead_ws)
            self._lead_ws = ""
            self._said_content = True
        return "".join(reasoning), "".join(content)

    def _emit(self, segment: str, reasoning: list[str], content: list[str]) -> None:
        if not segment:
            return
        if self._skip_ws:
            segment = segment.lstrip()
            if not segment:
                return
            self._skip_ws = False
        if self._inside:
            body = segment.rstrip()
            if not body:
                self._pending_ws += segment
                return
            if self._new_block:
                self._new_block = False
                if self._said_reasoning:
                    reasoning.append("\n\n")
            reasoning.append(self._pending_ws + body)
            self._pending_ws = segment[len(body):]
            self._said_reasoning = True
        elif self._said_content:
            content.append(segment)
        else:
            body = segment.lstrip()
            if not body:
                self._lead_ws += segment
                return
            content.append(self._lead_ws + segment)
            self._lead_ws = ""
            self._said_content = True


def _partial_tag_length(text: str, tag: str, start: int) -> int:
    """Length of the longest suffix of ``text[start:]`` that is a proper prefix of ``tag``."""
    lt = text.rfind("<", max(start, len(text) - len(tag) + 1))
    if lt != -1 and tag.startswith(text[lt:]):
        return len(text) - lt
    return 0


def split_think_text(text: str) -> tuple[str, str]:
    """(reasoning, content) of a whole answer; what a stream of it adds up to."""
    if OPEN_TAG not in text:
        return "", text
    splitter = ThinkSplitter()
    reasoning, content = splitter.feed(text)
    more_reasoning, more_content = splitter.flush()
    return reasoning + more_reasoning, content + more_content
