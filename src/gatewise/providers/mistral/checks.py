"""Type and range checks for the scalar parameters Mistral accepts (§2.1), and :func:`bad`.

A bad value is refused here, before any network call, with the field and the reason, so
nothing the schema would reject ever goes on the wire.  One table per endpoint, keyed by
the caller's parameter name; each check returns why the value is wrong, or None (checks of
structured values raise :func:`bad` themselves, to name the exact place inside).

:func:`bad` is the one way the adapter refuses a request: every module builds its
``BadRequestError`` with it, so the message and ``param`` always carry the same exact
JSON-ish path (``messages[3].tool_calls[0].function.arguments``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from gatewise._exceptions import BadRequestError

Check = Callable[[Any], str | None]

# JSON has no integer limit, but encoders (orjson) and servers (64-bit) do.
MAX_INT = 2**63 - 1


def bad(path: str, why: str) -> BadRequestError:
    """The error for a request Mistral would refuse; ``path`` names the field exactly."""
    return BadRequestError(f"{path}: {why}", provider="mistral", param=path)


def extra_fields(value: Any, written: frozenset[str]) -> dict[str, Any]:
    """A caller's ``extra_body``: fields to send as given, refused (all named at once) where
    one would replace a field the adapter writes or checks itself (``written``): the model,
    the checked messages, a limit such as ``max_tokens``.  Those come from the request's
    own parameters, or a client could pick another model on an operator's key."""
    if not isinstance(value, dict):
        raise bad("extra_body", "must be an object")
    clashes = sorted(written.intersection(value))
    if clashes:
        names = ", ".join(clashes)
        raise BadRequestError(
            f"extra_body cannot set {names}: gatewise writes "
            f"{'this field' if len(clashes) == 1 else 'these fields'} itself from the "
            "request's own parameters (pass them as such); extra_body may only add fields "
            "gatewise never sends",
            provider="mistral", param=", ".join(f"extra_body.{name}" for name in clashes))
    return value


def _number(low: float, high: float, *, low_exclusive: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        if value < low or value > high or (low_exclusive and value == low):
            opening = "(" if low_exclusive else "["
            return f"must be in {opening}{low:g}, {high:g}] for Mistral (got {value!r})"
        return None
    return check


def _integer(minimum: int) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if value < minimum:
            return f"must be >= {minimum} (got {value})"
        if value > MAX_INT:
            return f"must be at most 2**63 - 1 (got {value})"
        return None
    return check


def _is(kind: type, name: str) -> Check:
    def check(value: Any) -> str | None:
        return None if isinstance(value, kind) and not (
            kind is int and isinstance(value, bool)) else f"must be {name}"
    return check


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, str) and value in choices:
            return None
        return f"must be one of {', '.join(map(repr, choices))} (got {value!r})"
    return check


def _stop(value: Any) -> str | None:
    if isinstance(value, str) or (isinstance(value, list)
                                  and all(isinstance(s, str) for s in value)):
        return None
    return "must be a string or a list of strings"


# GuardrailConfig: which keys hold what, per the OpenAPI schema.
_MODERATION_CATEGORIES = frozenset({
    "sexual", "hate_and_discrimination", "violence_and_threats",
    "dangerous_and_criminal_content", "selfharm", "health", "financial", "law", "pii",
    # v2 only
    "dangerous", "criminal", "jailbreaking",
})
_MODERATION_ACTIONS = ("none", "block")


def _moderation(config: Any, path: str) -> None:
    if not isinstance(config, dict):
        raise bad(path, "must be an object")
    if not isinstance(config.get("model_name", ""), str):
        raise bad(f"{path}.model_name", "must be a string")
    if not isinstance(config.get("ignore_other_categories", False), bool):
        raise bad(f"{path}.ignore_other_categories", "must be true or false")
    action = config.get("action", "none")
    if not (isinstance(action, str) and action in _MODERATION_ACTIONS):
        raise bad(f"{path}.action", f"must be 'none' or 'block' (got {action!r})")
    thresholds = config.get("custom_category_thresholds")
    if thresholds is None:
        return
    if not isinstance(thresholds, dict):
        raise bad(f"{path}.custom_category_thresholds", "must be an object")
    for category, threshold in thresholds.items():
        if category in _MODERATION_CATEGORIES and threshold is not None:
            why = _ANY_NUMBER(threshold)
            if why is not None:
                raise bad(f"{path}.custom_category_thresholds.{category}", why)


def _guardrails(value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be a list of guardrail objects"
    for i, guardrail in enumerate(value):
        path = f"guardrails[{i}]"
        if not isinstance(guardrail, dict):
            raise bad(path, "must be a guardrail object")
        if not isinstance(guardrail.get("block_on_error", False), bool):
            raise bad(f"{path}.block_on_error", "must be true or false")
        for key in ("moderation_llm_v1", "moderation_llm_v2"):
            if guardrail.get(key) is not None:
                _moderation(guardrail[key], f"{path}.{key}")
    return None


_ANY_NUMBER = _number(-MAX_INT - 1, MAX_INT)  # finite, and small enough to encode

CHECKS: dict[str, Check] = {
    "temperature": _number(0, 1.5),
    "top_p": _number(0, 1, low_exclusive=True),
    "max_tokens": _integer(0),
    "max_completion_tokens": _integer(0),
    "n": _integer(1),
    "seed": _integer(0),
    "random_seed": _integer(0),
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "stop": _stop,
    "parallel_tool_calls": _is(bool, "true or false"),
    "safe_prompt": _is(bool, "true or false"),
    "stream": _is(bool, "true or false"),
    "metadata": _is(dict, "an object"),
    "prompt_cache_key": _is(str, "a string"),
    "prompt_mode": _one_of("reasoning"),
    "guardrails": _guardrails,
}

EMBEDDING_CHECKS: dict[str, Check] = {
    "dimensions": _integer(1),
    "encoding_format": _one_of("float", "base64"),
    "output_dtype": _one_of("float", "int8", "uint8", "binary", "ubinary"),
    "metadata": _is(dict, "an object"),
}


def check_params(params: dict[str, Any], checks: dict[str, Check] = CHECKS) -> None:
    """Raise ``BadRequestError`` naming the first parameter whose value Mistral would refuse."""
    for name, value in params.items():  # a call has a few parameters; there are many checks
        check = checks.get(name)
        if check is not None and value is not None:
            why = check(value)
            if why is not None:
                raise bad(name, why)
