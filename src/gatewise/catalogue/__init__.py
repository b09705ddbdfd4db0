"""Model facts as packaged data: context windows, prices, capabilities, aliases.

::

    from gatewise.catalogue import default_catalogue, completion_cost, token_counter

    info = default_catalogue().get("mistral/mistral-small-latest")
    info.max_input_tokens, info.input_cost_per_token, info.reasoning_effort_levels

Importing this package reads nothing: the packaged ``models.json`` is parsed on a
catalogue's first lookup, and ``mistral-common`` (optional, for exact token counts) is
imported on the first count that can use it.
"""

from gatewise.catalogue._catalogue import Catalogue, default_catalogue
from gatewise.catalogue._model_info import ModelInfo
from gatewise.catalogue.cost import completion_cost, cost_for_usage
from gatewise.catalogue.tokens import (
    TokenCount,
    TokenizerCache,
    count_tokens,
    estimate_prompt_tokens,
    fits_context,
    token_counter,
)

__all__ = [
    "Catalogue",
    "ModelInfo",
    "TokenCount",
    "TokenizerCache",
    "completion_cost",
    "cost_for_usage",
    "count_tokens",
    "default_catalogue",
    "estimate_prompt_tokens",
    "fits_context",
    "token_counter",
]
