"""``build_chat_body``: one OpenAI-style chat request -> one Mistral request body."""

from __future__ import annotations

from typing import Any

from gatewise._exceptions import BadRequestError
from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.base import JSON
from gatewise.providers.mistral.checks import bad, extra_fields
from gatewise.providers.mistral.messages import translate_messages
from gatewise.providers.mistral.params import BODY_FIELDS, translate_params
from gatewise.providers.mistral.reasoning import (
    native_effort,
    prepend_instruction,
    reasoning_style,
    requested_effort,
    wants_instruction,
)

CHAT_PATH = "/chat/completions"


def build_chat_body(
    model: str,
    messages: list[JSON],
    params: JSON,
    *,
    drop_params: bool = False,
    model_info: ModelInfo | None = None,
) -> JSON:
    """The JSON body for ``POST /v1/chat/completions``.

    ``params`` are the caller's OpenAI-style keyword parameters (``None`` means unset).
    Raises ``UnsupportedParamsError`` for parameters Mistral cannot honour (unless
    ``drop_params``) and ``BadRequestError`` naming the field (``param``, an exact path
    such as ``messages[2].content[0].image_url``) for requests it would refuse, before any
    network call.  Never mutates its arguments.
    """
    try:
        return _chat_body(model, messages, params, drop_params, model_info)
    except BadRequestError as error:  # free unless raised: say which model it was for
        error.model = error.model or model
        raise


def _chat_body(model: str, messages: list[JSON], params: JSON, drop_params: bool,
               model_info: ModelInfo | None) -> JSON:
    if not isinstance(messages, list):
        raise bad("messages", "must be a list of message objects")
    # (Most calls ask for no reasoning: then there is nothing to work out about it.)
    asks = "reasoning_effort" in params or "thinking" in params
    effort = requested_effort(params) if asks else None
    mistral_messages = translate_messages(
        messages, native_reasoning=reasoning_style(model_info) == "native")
    if effort is not None and wants_instruction(effort, model_info):
        mistral_messages = prepend_instruction(mistral_messages)

    body: JSON = {"model": model, "messages": mistral_messages}
    body.update(translate_params(params, drop_params=drop_params))
    level = native_effort(effort, model_info) if effort is not None else None
    if level is not None:
        body["reasoning_effort"] = level
    if params.get("stream"):
        body["stream"] = True

    extra_body: Any = params.get("extra_body")
    if extra_body is not None:  # the caller's escape hatch, for fields gatewise never sends
        body.update(extra_fields(extra_body, BODY_FIELDS))
    return body
