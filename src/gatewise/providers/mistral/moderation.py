"""Moderation: OpenAI's ``/v1/moderations`` <-> Mistral's ``/v1/moderations`` and
``/v1/chat/moderations`` (reference §10).

OpenAI's ``input`` is a string, a list of strings, or a list of content parts; Mistral
moderates text (``/v1/moderations``, one result per string) and conversations
(``/v1/chat/moderations``, one result per conversation).  So a string or a list of strings
goes to the first, a list of messages (one conversation) or a list of such lists to the
second, and a list of text parts is one text.  Mistral's answer has OpenAI's shape less
``flagged``, which is derived here: a result is flagged when any category is.  Mistral's
category names are kept (``hate_and_discrimination``, ``selfharm``, ``pii``...).
"""

from __future__ import annotations

from typing import Any

from gatewise._exceptions import BadRequestError
from gatewise.providers.base import JSON
from gatewise.providers.mistral.checks import bad
from gatewise.providers.mistral.messages import translate_messages
from gatewise.providers.mistral.params import unsupported_error
from gatewise.providers.mistral.response import translate_usage

MODERATIONS_PATH = "/moderations"
CHAT_MODERATIONS_PATH = "/chat/moderations"

_NOISE = frozenset({"user", "extra_headers"})


def _conversation(messages: list[Any], where: str) -> list[JSON]:
    """One conversation, as Mistral's message schemas take it; errors name ``where``."""
    try:
        return translate_messages(messages, for_serving=False)
    except BadRequestError as error:
        param = error.param or "messages"
        path = where + param.removeprefix("messages")
        why = error.message.removeprefix(f"{param}: ")
        raise bad(path, why) from None


def _text_parts(parts: list[Any]) -> str:
    """OpenAI's multi-modal input (one input made of parts): its text parts, as one text."""
    texts = []
    for i, part in enumerate(parts):
        if part.get("type") != "text":
            raise bad(f"input[{i}]", f"Mistral moderates text only (got a "
                                     f"{part.get('type')!r} part)")
        if not isinstance(part.get("text"), str):
            raise bad(f"input[{i}].text", "must be a string")
        texts.append(part["text"])
    return "\n".join(texts)


def _is_message(item: Any) -> bool:
    return isinstance(item, dict) and "role" in item


def moderation_input(input: Any) -> tuple[str, Any]:
    """``(path, Mistral's input)`` for OpenAI's ``input``."""
    if isinstance(input, str):
        return MODERATIONS_PATH, input
    if not isinstance(input, list) or not input:
        raise bad("input", "must be a string, a non-empty list of strings, a conversation "
                           "(a list of messages) or a list of conversations")
    if all(isinstance(item, str) for item in input):
        return MODERATIONS_PATH, input
    if all(_is_message(item) for item in input):
        return CHAT_MODERATIONS_PATH, _conversation(input, "input")
    if all(isinstance(item, list) for item in input):
        conversations = []
        for i, conversation in enumerate(input):
            if not conversation or not all(_is_message(m) for m in conversation):
                raise bad(f"input[{i}]", "a conversation must be a non-empty list of "
                                         "messages (objects with a role)")
            conversations.append(_conversation(conversation, f"input[{i}]"))
        return CHAT_MODERATIONS_PATH, conversations
    if all(isinstance(item, dict) and "type" in item for item in input):
        return MODERATIONS_PATH, _text_parts(input)
    raise bad("input", "mixes kinds of items: give strings, messages, conversations or "
                       "content parts, one kind at a time")


def moderation_request(model: str, input: Any, params: JSON, *, drop_params: bool = False
                       ) -> tuple[str, JSON]:
    """The path (``/moderations`` or ``/chat/moderations``) and JSON body for OpenAI's
    moderation call.  ``metadata`` goes with text; anything else Mistral cannot honour is
    ``UnsupportedParamsError`` unless ``drop_params``."""
    path, mistral_input = moderation_input(input)
    body: JSON = {"model": model, "input": mistral_input}
    unsupported: list[str] = []
    for key, value in params.items():
        if value is None or key in _NOISE or key == "extra_body":
            continue
        if key == "metadata" and path == MODERATIONS_PATH:
            if not isinstance(value, dict):
                raise bad("metadata", "must be an object")
            body["metadata"] = value
        else:
            unsupported.append(key)
    if unsupported and not drop_params:
        raise unsupported_error(unsupported)
    extra_body: Any = params.get("extra_body")
    if extra_body is not None:
        if not isinstance(extra_body, dict):
            raise bad("extra_body", "must be an object")
        body.update(extra_body)  # the caller's explicit escape hatch, verbatim
    return path, body


def _result(raw: Any) -> JSON:
    raw = raw if isinstance(raw, dict) else {}
    given = raw.get("categories")
    scores = raw.get("category_scores")
    categories = {str(k): v is True for k, v in given.items()} if isinstance(given, dict) else {}
    return {
        "flagged": any(categories.values()),
        "categories": categories,
        "category_scores": {str(k): float(v) for k, v in scores.items()
                            if isinstance(v, int | float) and not isinstance(v, bool)}
        if isinstance(scores, dict) else {},
    }


def parse_moderation_response(body: JSON, *, model: str) -> JSON:
    """Mistral's moderation answer -> OpenAI's: each result gains ``flagged`` (any category
    true); ``usage`` is kept when Mistral sends one."""
    results = body.get("results")
    out: JSON = {"id": str(body.get("id") or ""), "model": body.get("model") or model,
                 "results": [_result(r) for r in (results if isinstance(results, list) else ())]}
    if isinstance(body.get("usage"), dict):
        out["usage"] = translate_usage(body["usage"])
    return out
