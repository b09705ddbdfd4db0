"""Which kinds of call a model serves, from its catalogue facts.

A model has one ``mode`` (``chat``, ``embedding``, ``moderation``, ``ocr``...), and some
facts let it serve more than that one kind of call: a chat model with ``supports_fim``
also completes code (``fim``); a moderation model also serves the classification
endpoints.  The SDK and the proxy ask :func:`served_modes` before sending anything, so a
call of the wrong kind is refused with a clear error instead of the upstream's
``Invalid model``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from gatewise.catalogue._model_info import Mode, ModelInfo

__all__ = ["IMPLIED_MODES", "MODES", "served_modes"]

#: Every mode a model may have.
MODES: tuple[str, ...] = get_args(Mode)

#: The kinds of call a mode serves besides its own.
IMPLIED_MODES: Mapping[str, frozenset[str]] = {
    "completion": frozenset({"fim"}),  # LiteLLM's name for text completion models
    "moderation": frozenset({"classification"}),
}


def served_modes(info: ModelInfo, model_info: Mapping[str, Any] | None = None
                 ) -> frozenset[str] | None:
    """The kinds of call a model serves, or None when nothing is known about it.

    ``model_info`` (a proxy config entry's) may state ``mode`` and ``supports_fim``, which
    win over the catalogue's.  A model the catalogue does not know, with no ``mode``
    stated, gets None: every kind of call is let through for the upstream to judge (the
    catalogue's defaults for unknown models are "nothing known", never "lacks it").
    """
    stated = model_info or {}
    mode = stated.get("mode")
    if not mode and not info.known:
        return None
    mode = str(mode or info.mode)
    fim = stated.get("supports_fim")
    modes = {mode, *IMPLIED_MODES.get(mode, ())}
    if (info.supports_fim if fim is None else bool(fim)):
        modes.add("fim")
    return frozenset(modes)
