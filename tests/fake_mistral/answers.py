"""What the fake "model" answers to a valid chat body, before it is rendered as JSON or SSE.

Deterministic on purpose: a fixed sentence (after the prefix, if any), a tool call when one
is forced, thinking according to the model's reasoning style, cut at ``max_tokens``.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, replace
from typing import Any

from .models import MODELS, ModelFacts
from .tokens import content_text, count_tokens

DEFAULT_TEXT = "Hello from the fake Mistral server."
THINKING_TEXT = "The user wrote to me, so a short and friendly reply is the best answer."
# How Magistral 2506's recommended system prompt starts: it asks for <think> tags.
THINK_PROMPT = "When solving problems, think step-by-step in <think> tags"


@dataclass(frozen=True)
class Answer:
    text: str
    thinking: str = ""  # native reasoning: sent as a ``thinking`` chunk before ``text``
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str = "stop"
    # Streamed ``text`` is cut into pieces of this many characters (None: word by word).
    piece_size: int | None = None

    @property
    def completion_tokens(self) -> int:
        calls = json.dumps(self.tool_calls) if self.tool_calls else ""
        return count_tokens(self.thinking) + count_tokens(self.text) + count_tokens(calls)


def plan_answer(body: dict[str, Any], override: tuple[dict[str, Any], str] | None) -> Answer:
    """The answer to ``body`` (already valid); ``override`` is ``(message, finish_reason)``."""
    if override is not None:
        answer = answer_from_message(*override)
    elif (function := _forced_function(body)) is not None:
        answer = _tool_call_answer(function)
    else:
        answer = _text_answer(body, MODELS[body["model"]])
    return _cut(answer, body.get("max_tokens"))


def answer_from_message(message: dict[str, Any], finish_reason: str) -> Answer:
    """An answer that renders as ``message`` (a scripted assistant message)."""
    content = message.get("content")
    if isinstance(content, list):
        thinking = content_text([c for c in content if c.get("type") == "thinking"])
        text = content_text([c for c in content if c.get("type") == "text"])
    else:
        thinking, text = "", content or ""
    return Answer(text, thinking, message.get("tool_calls"), finish_reason)


def _text_answer(body: dict[str, Any], facts: ModelFacts) -> Answer:
    messages = body["messages"]
    last = messages[-1]
    prefix = content_text(last.get("content")) if last.get("prefix") else ""
    effort = body.get("reasoning_effort")
    if facts.reasoning == "instructed" and _asks_for_think_tags(body):
        think_block = f"<think>\n{THINKING_TEXT}\n</think>\n\n"
        return Answer(prefix + think_block + DEFAULT_TEXT, piece_size=3)
    native = facts.reasoning == "native" and (
        effort not in (None, "none") or (facts.thinks_by_default and effort is None)
    )
    return Answer(prefix + DEFAULT_TEXT, THINKING_TEXT if native else "")


def _asks_for_think_tags(body: dict[str, Any]) -> bool:
    first = body["messages"][0]
    system = content_text(first["content"]) if first["role"] == "system" else ""
    return body.get("prompt_mode") == "reasoning" or system.startswith(THINK_PROMPT)


def _forced_function(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function a ``tool_choice`` of any/required/named forces, if any."""
    functions: list[dict[str, Any]] = [
        tool["function"] for tool in body.get("tools") or [] if tool["type"] == "function"
    ]
    choice = body.get("tool_choice", "auto")
    if isinstance(choice, dict):
        name = choice["function"]["name"]
        return next((f for f in functions if f["name"] == name), {"name": name})
    if choice in ("any", "required") and functions:
        return functions[0]
    return None


def _tool_call_answer(function: dict[str, Any]) -> Answer:
    arguments = _stub_value(function.get("parameters", {"type": "object"}))
    call = {
        "id": _new_tool_call_id(),
        "function": {"name": function["name"], "arguments": json.dumps(arguments)},
        "index": 0,
    }
    return Answer("", tool_calls=[call], finish_reason="tool_calls")


def _new_tool_call_id() -> str:
    return "".join(random.choices(string.ascii_letters + string.digits, k=9))


def _stub_value(schema: dict[str, Any]) -> Any:
    """A small value that fits ``schema``: required properties only, simple stubs."""
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return _stub_value(branches[0])
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: _stub_value(properties.get(key, {})) for key in schema.get("required", [])}
    stubs = {"integer": 1, "number": 1, "boolean": True, "array": [], "null": None}
    return stubs.get(kind, "Paris")


def _cut(answer: Answer, max_tokens: int | None) -> Answer:
    """Truncate the thinking, then the text, to ``max_tokens`` (finish_reason ``length``)."""
    if max_tokens is None or answer.tool_calls or answer.completion_tokens <= max_tokens:
        return answer
    thinking = answer.thinking[: max_tokens * 4]
    text = answer.text[: (max_tokens - count_tokens(thinking)) * 4]
    return replace(answer, thinking=thinking, text=text, finish_reason="length")
