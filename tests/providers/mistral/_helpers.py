"""Shared test helpers for the Mistral adapter tests."""

from __future__ import annotations

from typing import Any

from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.mistral import build_chat_body

MODEL = "mistral-small-latest"
NATIVE = ModelInfo(provider="mistral", model=MODEL, reasoning="native",
                   reasoning_effort_levels=("none", "high"))
INSTRUCTED = ModelInfo(provider="mistral", model="magistral-small-2506", reasoning="instructed")
PLAIN = ModelInfo(provider="mistral", model="mistral-large-latest")
USER = [{"role": "user", "content": "Hi"}]


def body(messages: list[Any] | None = None, /, **params: Any) -> dict[str, Any]:
    """``build_chat_body`` with the test model and a one-line user turn by default."""
    drop = params.pop("drop_params", False)
    info = params.pop("model_info", None)
    return build_chat_body(MODEL, USER if messages is None else messages, params,
                           drop_params=drop, model_info=info)


def nulls(value: Any, path: str = "body") -> list[str]:
    """Paths of every ``None`` anywhere inside ``value``."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls(v, f"{path}[{i}]")]
    return []
