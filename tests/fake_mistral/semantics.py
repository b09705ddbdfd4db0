"""The 400s the live API gives a chat body that passed schema validation (mistral-api.md §2.3).

The message rules and their order follow ``mistral-common``'s serving validator (v3+), with
the live API's stricter role order (no ``user`` right after ``tool``) and its error strings.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

from .errors import ErrorReply, bad_request, invalid_args, invalid_model
from .models import MODELS

_TOOL_CALL_ID = re.compile(r"^[a-zA-Z0-9]{9}$")
_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_NEXT_ROLES = {
    "system": {"user", "assistant", "system"},
    "user": {"assistant", "system", "user"},
    "assistant": {"assistant", "user", "tool"},
    "tool": {"assistant", "tool"},
}


def semantic_error(body: dict[str, Any]) -> ErrorReply | None:
    """``(400, error envelope)`` for the first broken rule, or None if the body is fine."""
    messages: list[dict[str, Any]] = body["messages"]
    return (
        _model_error(body)
        or _structure_error(messages)
        or _content_error(messages)
        or _tools_error(body.get("tools") or [])
    )


def _model_error(body: dict[str, Any]) -> ErrorReply | None:
    facts = MODELS.get(body["model"])
    if facts is None or facts.mode != "chat":
        return invalid_model(body["model"])
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in facts.efforts:
        return invalid_args(f"reasoning_effort='{effort}' is not supported for this model")
    if body.get("prompt_mode") is not None and not facts.has_reasoning_prompt:
        return invalid_args("Reasoning prompt mode is not enabled for this model")
    return None


def _structure_error(messages: list[dict[str, Any]]) -> ErrorReply | None:
    if not messages:
        return bad_request("Conversation must have at least one message")
    roles = [message["role"] for message in messages]
    if len(roles) == 1 and roles[0] not in ("user", "system"):
        return bad_request("Conversation must start with a user message or system message")
    last = messages[-1]
    # As in mistral-common, only a trailing assistant without ``prefix`` is refused: a
    # trailing system message passes, despite the wording of the message.
    if len(roles) > 1 and last["role"] == "assistant" and not last.get("prefix"):
        return bad_request(
            "Expected last role User or Tool (or Assistant with prefix True) for serving "
            f"but got {last['role']}"
        )
    for previous, current in pairwise(roles):
        if current not in _NEXT_ROLES[previous]:
            message = f"Unexpected role '{current}' after role '{previous}'"
            return bad_request(message, "invalid_request_message_order", "3230")
    return _tool_count_error(messages)


def _tool_count_error(messages: list[dict[str, Any]]) -> ErrorReply | None:
    """Each assistant's tool calls must be answered by as many tool messages.

    As in mistral-common, the first message is not counted.
    """
    expected = 0
    for message in messages[1:]:
        if message["role"] == "tool":
            expected -= 1
        elif message["role"] == "assistant":
            if expected != 0:
                break
            expected = len(message.get("tool_calls") or [])
    if expected != 0:
        return bad_request("Not the same number of function calls and responses")
    return None


def _content_error(messages: list[dict[str, Any]]) -> ErrorReply | None:
    for index, message in enumerate(messages):
        is_last = index == len(messages) - 1
        if message["role"] == "assistant":
            error = _assistant_error(message, is_last=is_last)
        elif message["role"] == "tool":
            error = _tool_message_error(message)
        else:
            error = None
        if error:
            return error
    return None


def _assistant_error(message: dict[str, Any], *, is_last: bool) -> ErrorReply | None:
    tool_calls = message.get("tool_calls") or []
    if not message.get("content") and not tool_calls:
        return bad_request(
            "Assistant message must have either content or tool_calls, but not none."
        )
    for call in tool_calls:
        call_id = call.get("id", "null")
        if call_id != "null" and not _TOOL_CALL_ID.match(call_id):
            return _bad_tool_call_id(call_id)
        if call_id == "null":
            return _function_call_error("Tool call id has to be defined in serving mode.")
        if not _FUNCTION_NAME.match(call["function"]["name"]):
            return _function_call_error(_bad_function_name(call["function"]["name"]))
    if message.get("prefix") and not is_last:
        return bad_request("Assistant message with prefix True must be last message")
    return None


def _tool_message_error(message: dict[str, Any]) -> ErrorReply | None:
    name = message.get("name")
    if name is not None and not _FUNCTION_NAME.match(name):
        return _function_call_error(_bad_function_name(name))
    call_id = message.get("tool_call_id")
    if call_id is None:
        return bad_request("Tool call id has to be defined.")
    if not _TOOL_CALL_ID.match(call_id):
        return _bad_tool_call_id(call_id)
    return None


def _tools_error(tools: list[dict[str, Any]]) -> ErrorReply | None:
    for tool in tools:
        if tool["type"] == "function" and not _FUNCTION_NAME.match(tool["function"]["name"]):
            return bad_request(_bad_function_name(tool["function"]["name"]))
    return None


def _bad_tool_call_id(call_id: str) -> ErrorReply:
    message = f"Tool call id was {call_id} but must be a-z, A-Z, 0-9, with a length of 9."
    return _function_call_error(message)


def _bad_function_name(name: str) -> str:
    return (
        f"Function name was {name} but must be a-z, A-Z, 0-9, "
        "or contain underscores and dashes, with a maximum length of 64."
    )


def _function_call_error(message: str) -> ErrorReply:
    return bad_request(message, "invalid_function_call", "3280")
