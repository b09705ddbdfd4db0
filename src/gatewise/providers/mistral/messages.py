"""Chat history: OpenAI messages -> Mistral messages (reference §2.2-2.3).

Each message is rebuilt from the keys Mistral's schema has for its role, so ``name`` (except
on tool messages), ``metadata``, ``refusal``, ``audio``, ``annotations``, ``cache_control``
and the like never reach the wire.  Then the conversation is put in an order Mistral
serves: no ``user`` right after ``tool``, no empty assistant turn, and a trailing assistant
turn marked ``prefix: true``.
"""

from __future__ import annotations

from typing import Any

from gatewise.providers.base import JSON
from gatewise.providers.mistral.checks import bad
from gatewise.providers.mistral.content import has_text, translate_parts, translate_system_parts
from gatewise.providers.mistral.reasoning import thinking_chunk
from gatewise.providers.mistral.tools import (
    check_function_name,
    is_function_name,
    mistral_tool_call_id,
    request_arguments,
)

# Said by the assistant between tool results and a user turn: the live API refuses `user`
# right after `tool` ("Unexpected role 'user' after role 'tool'", §2.3).  A system message
# there would still be refused after the bridge (assistant -> system is not served either),
# so that one is left for Mistral to explain.
BRIDGE_TEXT = "Understood."
_PLAIN_ROLES = ("user", "system", "developer")  # (a tuple: a role may be unhashable)


def _content(message: JSON, where: str) -> str | list[JSON]:
    """User/assistant/tool content; ``None`` becomes "" (never send ``null``)."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return translate_parts(content, where)
    raise bad(f"{where}.content", "must be a string, a list of parts or null")


def _system(message: JSON, where: str) -> JSON | None:
    content = message.get("content")
    if content is None:
        return None
    if isinstance(content, list):
        content = translate_system_parts(content, where)
    elif not isinstance(content, str):
        raise bad(f"{where}.content", "a system message's content must be a string or "
                                      "text parts")
    return {"role": "system", "content": content}


def _optional_string(message: JSON, key: str, where: str) -> str | None:
    value = message.get(key)
    if value is None or isinstance(value, str):
        return value
    raise bad(f"{where}.{key}", "must be a string")


def _call(function: Any, path: str, call_id: str | None, place: str) -> JSON:
    """One Mistral tool call; ``path`` is where ``function`` (name and arguments) sits.

    A call without an id gets one derived from its ``place``, so translation stays stable.
    """
    if not isinstance(function, dict):
        raise bad(path, "must be an object with `name` and `arguments`")
    name = function.get("name")
    if not isinstance(name, str) or not is_function_name(name):
        check_function_name(name, path=f"{path}.name")  # raises, saying why
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = request_arguments(arguments, path=f"{path}.arguments")
    return {"id": mistral_tool_call_id(call_id or f"{place}:{name}"), "type": "function",
            "function": {"name": name, "arguments": arguments}}


def _tool_call(call: Any, path: str) -> JSON:
    if not isinstance(call, dict):
        raise bad(path, "a tool call must be an object")
    if call.get("type", "function") != "function":
        raise bad(f"{path}.type", "Mistral takes function tool calls only")
    call_id = call.get("id")
    if call_id is not None and not isinstance(call_id, str):
        raise bad(f"{path}.id", "must be a string")
    return _call(call.get("function"), f"{path}.function", call_id, path)


def _with_reasoning(content: str | list[JSON], reasoning: str) -> list[JSON]:
    """Native reasoning models take earlier thoughts back as a thinking chunk first."""
    if isinstance(content, str):
        content = [{"type": "text", "text": content}] if content else []
    return [thinking_chunk(reasoning), *content]


class _Translator:
    """One pass over the history; remembers which tool calls are waiting for results."""

    def __init__(self, *, native_reasoning: bool) -> None:
        self.native_reasoning = native_reasoning
        self.out: list[JSON] = []
        self.single_call_id: str | None = None  # the one call a bare tool message answers
        self.legacy_call_ids: dict[str, str] = {}  # function name -> id, for role "function"

    def add(self, message: Any, index: int) -> None:
        if not isinstance(message, dict):
            raise bad(f"messages[{index}]", "a message must be an object")
        role = message.get("role")
        # A tool message without an id can only answer a lone call made right before it.
        single_call_id, self.single_call_id = self.single_call_id, None
        content = message.get("content")
        if type(content) is str and role in _PLAIN_ROLES:
            # The usual message, a role and its text: nothing else of it goes to Mistral,
            # and nothing in it can be refused (so no path for an error is made).
            self.out.append({"role": "system" if role == "developer" else role,
                             "content": content})
            return
        where = f"messages[{index}]"
        translated: JSON | None
        if role == "user":
            translated = {"role": "user", "content": _content(message, where)}
        elif role == "assistant":
            translated = self._assistant(message, where)
        elif role == "tool":
            translated = self._tool(message, where, single_call_id)
        elif role in ("system", "developer"):
            translated = _system(message, where)
        elif role == "function":
            translated = self._function_result(message, where, single_call_id)
        elif role is None:
            raise bad(f"{where}.role", "every message needs a role")
        else:
            raise bad(f"{where}.role", f"unknown role {role!r}")
        if translated is not None:
            self.out.append(translated)

    def _assistant(self, message: JSON, where: str) -> JSON | None:
        content = _content(message, where)
        if not has_text(content):
            refusal = _optional_string(message, "refusal", where)
            if refusal is not None:
                content = refusal
        prefix = message.get("prefix")  # ours is set by _serving_order; the caller's checked
        if prefix is not None and not isinstance(prefix, bool):
            raise bad(f"{where}.prefix", "must be true or false")
        calls = message.get("tool_calls")
        tool_calls: list[JSON] = []
        if isinstance(calls, list):
            path = f"{where}.tool_calls"
            tool_calls = [_tool_call(c, f"{path}[{j}]") for j, c in enumerate(calls)]
        elif calls is not None:
            raise bad(f"{where}.tool_calls", "must be a list of tool calls")
        legacy = message.get("function_call")
        if not tool_calls and legacy is not None:  # the legacy single call
            call = _call(legacy, f"{where}.function_call", f"{where}:function_call", where)
            self.legacy_call_ids[call["function"]["name"]] = call["id"]
            tool_calls = [call]
        if not has_text(content) and not tool_calls:
            return None  # Mistral: "must have either content or tool_calls"
        out: JSON = {"role": "assistant"}
        reasoning = _optional_string(message, "reasoning_content", where)
        if self.native_reasoning and reasoning:
            out["content"] = _with_reasoning(content, reasoning)
        elif has_text(content):
            out["content"] = content
        if tool_calls:
            out["tool_calls"] = tool_calls
            if len(tool_calls) == 1:
                self.single_call_id = tool_calls[0]["id"]
        return out

    def _tool(self, message: JSON, where: str, single_call_id: str | None) -> JSON:
        out: JSON = {"role": "tool", "content": _content(message, where)}
        call_id = _optional_string(message, "tool_call_id", where)
        if call_id:
            out["tool_call_id"] = mistral_tool_call_id(call_id)
        elif single_call_id is not None:
            out["tool_call_id"] = single_call_id
        name = _optional_string(message, "name", where)
        if name is not None and is_function_name(name):  # Mistral checks it (§2.3)
            out["name"] = name
        return out

    def _function_result(self, message: JSON, where: str, single_call_id: str | None) -> JSON:
        """Legacy ``role: "function"`` -> a tool message answering the legacy call."""
        out: JSON = {"role": "tool", "content": _content(message, where)}
        name = _optional_string(message, "name", where)
        call_id = self.legacy_call_ids.pop(name, None) if name is not None else None
        call_id = call_id or single_call_id
        if call_id is not None:
            out["tool_call_id"] = call_id
        if name is not None and is_function_name(name):
            out["name"] = name
        return out


def _serving_order(messages: list[JSON]) -> list[JSON]:
    """Bridge ``tool`` -> ``user`` and mark a trailing assistant turn as a prefix."""
    out: list[JSON] = []
    previous_role = None
    for message in messages:
        role = message["role"]
        if role == "user" and previous_role == "tool":
            out.append({"role": "assistant", "content": BRIDGE_TEXT})
        out.append(message)
        previous_role = role
    if out and out[-1]["role"] == "assistant":
        out[-1]["prefix"] = True  # our own dict, built above
    return out


def translate_messages(messages: list[Any], *, native_reasoning: bool = False,
                       for_serving: bool = True) -> list[JSON]:
    """OpenAI chat history -> a Mistral ``messages`` list (new dicts; the input is untouched).

    Mistral refuses an empty conversation, so one with nothing left to send is refused here.
    ``for_serving=False`` leaves out the fixes only a conversation to be answered needs (a
    bridge turn, a trailing prefix): a conversation to be moderated goes as it was.
    """
    translator = _Translator(native_reasoning=native_reasoning)
    for index, message in enumerate(messages):
        translator.add(message, index)
    if not translator.out:
        raise bad("messages", "must hold at least one message with content"
                  if messages else "must hold at least one message")
    return _serving_order(translator.out) if for_serving else translator.out
