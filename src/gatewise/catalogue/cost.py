"""What a call cost, from its usage and the catalogue's prices (USD).

A cost is None when it cannot be known -- no price for a model, or tokens of a kind the
model has no price for -- never a silent 0.  A model whose prices are known to be zero
costs 0.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatewise.catalogue._catalogue import Catalogue, default_catalogue
from gatewise.catalogue._model_info import ModelInfo

__all__ = ["completion_cost", "cost_for_usage"]

#: What is read from a usage object that is neither a mapping nor a pydantic model.
_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
               "cached_tokens", "num_cached_tokens", "pages_processed")


def cost_for_usage(info: ModelInfo, usage: Mapping[str, Any]) -> float | None:
    """The cost of ``usage`` (an OpenAI-shaped usage dict) at ``info``'s prices.

    ``prompt_tokens`` are billed at the input price, except the cached ones
    (``prompt_tokens_details.cached_tokens``, or Mistral's ``num_cached_tokens``) which are
    billed at the cached price (the input price when the model has none);
    ``completion_tokens`` (reasoning included) at the output price; OCR's
    ``pages_processed`` at the per-page price.  Embeddings have no completion tokens and
    need no output price.
    """
    # (_count written out for the usual counts, plain ints: this runs on every answer.)
    prompt = usage.get("prompt_tokens")
    if type(prompt) is not int or prompt < 0:
        prompt = _count(prompt)
    completion = usage.get("completion_tokens")
    if type(completion) is not int or completion < 0:
        completion = _count(completion)
    pages = usage.get("pages_processed")
    pages = _count(pages) if pages is not None else 0
    # (Cached tokens are looked for only where a usage may say them: most answers' do not.)
    cached = (min(_cached_tokens(usage), prompt)
              if "prompt_tokens_details" in usage or "num_cached_tokens" in usage else 0)
    total = 0.0
    if prompt - cached:
        if info.input_cost_per_token is None:
            return None
        total += (prompt - cached) * info.input_cost_per_token
    if cached:
        price = (info.cache_read_input_token_cost
                 if info.cache_read_input_token_cost is not None
                 else info.input_cost_per_token)
        if price is None:
            return None
        total += cached * price
    if completion:
        if info.output_cost_per_token is None:
            return None
        total += completion * info.output_cost_per_token
    if pages:
        if info.ocr_cost_per_page is None:
            return None
        total += pages * info.ocr_cost_per_page
    if not (prompt or completion or pages) and not _has_a_price(info):
        return None
    return total


def completion_cost(response: Any, *, model: str | None = None,
                    catalogue: Catalogue | None = None,
                    default_provider: str = "mistral") -> float | None:
    """The cost of a response: a dict shaped like OpenAI's, or an object with ``.model`` and
    ``.usage`` (e.g. the SDK's pydantic types; a pydantic ``usage`` is read with
    ``model_dump()``).

    ``model`` (``"provider/model"``) defaults to the response's ``model``; a name without
    a provider is taken as ``default_provider``'s.  Prices come from ``catalogue`` (the
    :func:`default_catalogue` if None).  None when the model, its prices or the usage are
    unknown.
    """
    name = model if model is not None else _field(response, "model")
    usage = _as_mapping(_field(response, "usage"))
    if usage is None:
        usage = _as_mapping(_field(response, "usage_info"))  # OCR answers
    if not isinstance(name, str) or not name or usage is None:
        return None
    if "/" not in name:
        name = f"{default_provider}/{name}"
    info = (catalogue if catalogue is not None else default_catalogue()).get(name)
    return cost_for_usage(info, usage)


def _has_a_price(info: ModelInfo) -> bool:
    return any(price is not None for price in (
        info.input_cost_per_token, info.output_cost_per_token, info.ocr_cost_per_page))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _cached_tokens(usage: Mapping[str, Any]) -> int:
    details = usage.get("prompt_tokens_details")
    if type(details) is not dict:
        details = _as_mapping(details)
    cached = _count(details.get("cached_tokens")) if details is not None else 0
    return cached or _count(usage.get("num_cached_tokens"))


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _as_mapping(obj: Any) -> Mapping[str, Any] | None:
    if obj is None:
        return None
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        dumped = dump()
        return dumped if isinstance(dumped, Mapping) else None
    return {key: getattr(obj, key) for key in _USAGE_KEYS if hasattr(obj, key)}
