"""Typos in a deployment's params: a key that is neither one of the entry's options nor a
parameter its provider takes, but close to one (``api_kye``, ``temprature``), is an error
naming what it is close to -- rather than the missing key (``MISTRAL_API_KEY is not set``)
or the unsupported parameter the adapter would otherwise report.  Keys close to nothing
known are left for the adapter to judge, as are LiteLLM's options for other providers.
"""

from __future__ import annotations

from typing import Any

from gatewise.proxy._litellm_keys import PARAMS as LITELLM_PARAMS
from gatewise.proxy._readers import Reader, did_you_mean


def _provider_parameters(params: dict[str, Any]) -> frozenset[str]:
    """The parameter names the entry's provider takes (none when it is not known yet)."""
    from gatewise.providers.base import PROVIDERS, adapter_for

    model, provider = params.get("model"), params.get("custom_llm_provider")
    name = model.partition("/")[0] if isinstance(model, str) and "/" in model else provider
    if not isinstance(name, str) or name not in PROVIDERS:
        return frozenset()
    return adapter_for(name).PARAMETERS


def param_typos(r: Reader, params: dict[str, Any], path: str, options: frozenset[str]
                ) -> dict[str, str]:
    """Take the typos out of ``params``: keys that are neither a call option nor a parameter
    the provider takes, but close to one (an error with the suggestion; a typo of a missing
    ``model`` is returned for its error to name).  Other keys stay for the adapter to judge
    (a parameter the provider cannot honour, LiteLLM's options for other providers)."""
    known = options | _provider_parameters(params)
    typos: dict[str, str] = {}
    for key in [k for k in params if k not in known and k not in LITELLM_PARAMS]:
        close = did_you_mean(key, known)
        if close is None:
            continue
        params.pop(key)
        if close == "model" and "model" not in params:
            typos[close] = key
        else:
            r.error(f"{path}.{key}", f"unknown key (did you mean {close!r}?)")
    return typos
