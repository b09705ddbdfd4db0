"""Code completion: OpenAI's legacy ``/v1/completions`` <-> Mistral's ``/v1/fim/completions``
(reference §8).

OpenAI's text completion takes a ``prompt`` and an optional ``suffix``: that is Mistral's
fill-in-the-middle, one prompt per request.  Mistral answers in its chat shape (the middle
as the assistant's content); OpenAI's ``text_completion`` puts it in ``choices[].text``.
The parameters fall in the same four bins as chat's (``params.py``): passed as is,
renamed (``seed`` -> ``random_seed``), client noise, or something Mistral cannot honour
(``logprobs``, ``echo``, ``best_of``, ``n`` > 1, ``logit_bias``, penalties...:
``UnsupportedParamsError`` unless ``drop_params``).
"""

from __future__ import annotations

import time
from typing import Any

from gatewise._exceptions import UnsupportedParamsError
from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.base import JSON
from gatewise.providers.mistral.checks import CHECKS, bad, check_params
from gatewise.providers.mistral.response import finish_reason, translate_usage

FIM_PATH = "/fim/completions"

# FIMCompletionRequest's own fields, passed as they are (`prompt`, `model`, `stream` aside).
_PASSTHROUGH = frozenset({"suffix", "temperature", "top_p", "max_tokens", "min_tokens", "stop",
                          "random_seed", "metadata", "prompt_cache_key"})
_NOISE = frozenset({"user", "extra_headers", "stream_options"})
_HANDLED = frozenset({"stream", "seed", "max_completion_tokens", "extra_body"})

_FIM_CHECKS = {**CHECKS, "min_tokens": CHECKS["max_tokens"],
               "suffix": lambda v: None if isinstance(v, str) else "must be a string"}


def _harmless(key: str, value: Any) -> bool:
    """Values of parameters FIM has not that ask for nothing beyond the default (clients
    such as LangChain's legacy ``OpenAI`` send them all)."""
    if key in ("n", "best_of"):
        return value == 1 and not isinstance(value, bool)
    if key in ("presence_penalty", "frequency_penalty"):
        return value == 0 and not isinstance(value, bool)
    if key in ("echo", "logprobs"):
        return value is False
    if key == "logit_bias":
        return bool(value == {})
    return False


def fim_prompt(prompt: Any) -> str:
    """The one prompt of a FIM request: a string, or a list holding exactly one string (as
    LangChain sends it).  Several prompts or token ids cannot be sent to Mistral."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        return prompt[0]
    if isinstance(prompt, list) and prompt and all(
            isinstance(p, int) and not isinstance(p, bool) for p in prompt):
        why = "token ids are not supported by Mistral's FIM endpoint: send the text"
    elif isinstance(prompt, list) and len(prompt) > 1:
        why = ("Mistral's FIM endpoint completes one prompt per request: send the prompts "
               "one request each")
    else:
        raise bad("prompt", "must be a string (the code before the gap to fill)")
    raise UnsupportedParamsError(f"prompt: {why}", provider="mistral", param="prompt")


def build_fim_body(model: str, prompt: Any, params: JSON, *, drop_params: bool = False,
                   model_info: ModelInfo | None = None) -> JSON:
    """The JSON body for ``POST /v1/fim/completions``.

    ``params`` are the caller's OpenAI-style keyword parameters (``None`` means unset).
    Raises ``UnsupportedParamsError`` for what Mistral cannot honour (unless
    ``drop_params``) and ``BadRequestError`` naming the field for a value it would refuse,
    before any network call.  Never mutates its arguments.
    """
    body: JSON = {"model": model, "prompt": fim_prompt(prompt)}
    check_params(params, _FIM_CHECKS)
    unsupported: list[str] = []
    for key, value in params.items():
        if value is None or key in _NOISE or key in _HANDLED:
            continue
        if key in _PASSTHROUGH:
            body[key] = value
        elif not _harmless(key, value):
            unsupported.append(key)
    if params.get("max_completion_tokens") is not None:  # the newer name wins
        body["max_tokens"] = params["max_completion_tokens"]
    seed = params.get("seed")
    if seed is not None and "random_seed" not in body:
        body["random_seed"] = seed
    if params.get("stream"):
        body["stream"] = True
    if unsupported and not drop_params:
        raise unsupported_fim_error(unsupported)
    extra_body: Any = params.get("extra_body")
    if extra_body is not None:
        if not isinstance(extra_body, dict):
            raise bad("extra_body", "must be an object")
        body.update(extra_body)  # the caller's explicit escape hatch, verbatim
    return body


def unsupported_fim_error(names: list[str]) -> UnsupportedParamsError:
    return UnsupportedParamsError(
        f"Mistral's FIM endpoint does not support the parameter(s) {', '.join(names)}; "
        f"it takes {', '.join(sorted({*_PASSTHROUGH, 'seed', 'stream'}))}. "
        "Pass drop_params=True to drop them instead",
        provider="mistral", param=", ".join(names))


def text_choice(text: str, reason: str | None, index: int = 0) -> JSON:
    """One choice of OpenAI's ``text_completion`` (the stream's chunks use it too, so the
    relay's plain events are cut from the same bytes)."""
    return {"index": index, "text": text, "logprobs": None, "finish_reason": reason}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # text chunks, should a model ever answer in parts
        return "".join(c.get("text") or "" for c in content
                       if isinstance(c, dict) and c.get("type") == "text")
    return ""


def parse_fim_response(body: JSON, *, model: str) -> JSON:
    """Mistral's FIM answer (chat-shaped) -> an OpenAI ``text_completion`` dict."""
    choices = body.get("choices")
    out = []
    for position, choice in enumerate(choices if isinstance(choices, list) else ()):
        if not isinstance(choice, dict):
            continue
        index = choice.get("index")
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        out.append(text_choice(_text(content), finish_reason(choice.get("finish_reason")),
                               index if isinstance(index, int) else position))
    created = body.get("created")
    return {
        "id": str(body.get("id") or ""),
        "object": "text_completion",
        "created": created if isinstance(created, int) else int(time.time()),
        "model": body.get("model") or model,
        "choices": out,
        "usage": translate_usage(body.get("usage")),
    }
