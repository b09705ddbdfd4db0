"""What the OCR and transcription adapters share: sorting a call's parameters into the ones
Mistral takes, the ones it cannot honour, and the caller's ``extra_body``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from gatewise._exceptions import UnsupportedParamsError
from gatewise.providers.base import JSON
from gatewise.providers.mistral.checks import bad

NOISE = frozenset({"user", "extra_headers", "metadata"})
"""OpenAI fields that say nothing to Mistral and are dropped without a word (as for chat)."""


def unsupported(names: list[str], known: Collection[str], endpoint: str, hint: str = ""
                ) -> UnsupportedParamsError:
    """The error for parameters Mistral's ``endpoint`` cannot honour, with a suggestion
    (and ``hint``, a word on what to do instead)."""
    import difflib  # only on this error path

    described = []
    for name in names:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        described.append(f"{name} (did you mean {close[0]!r}?)" if close else name)
    return UnsupportedParamsError(
        f"Mistral's {endpoint} does not support the parameter(s) {', '.join(described)}"
        f"{f' ({hint})' if hint else ''}; "
        "pass drop_params=True to drop them instead",
        provider="mistral", param=", ".join(names))


def split_params(params: JSON, known: Collection[str], *, endpoint: str,
                 drop_params: bool, handled: Collection[str] = ()) -> JSON:
    """The parameters of ``params`` Mistral takes as they are (``known``, not None), after
    refusing the others (unless ``drop_params``); ``handled`` are left to the caller."""
    taken: JSON = {}
    refused: list[str] = []
    for key, value in params.items():
        if (value is None or key in NOISE or key in handled or key == "extra_body"
                or (key == "stream" and value is False)):
            continue
        if key in known:
            taken[key] = value
        else:
            refused.append(key)
    if refused and not drop_params:
        raise unsupported(refused, known, endpoint)
    return taken


def extra_body(params: JSON) -> JSON:
    """The caller's ``extra_body`` (merged into the request verbatim), checked."""
    value: Any = params.get("extra_body")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad("extra_body", "must be an object")
    return value
