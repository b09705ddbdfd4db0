"""A request's estimated cost: what its admission reserves against the budgets it counts
toward, until the real cost replaces it.

Prompt tokens are guessed from the payload's size (about four characters a token); output
tokens are the request's ``max_tokens`` when it is smaller than what the model group's
answers have used so far (a moving average, learned from the request records: this is a
sink), else that average (``DEFAULT_OUTPUT`` before the first answer).  An estimate too
low lets concurrent requests overshoot a budget by the difference; too high refuses some a
little early.  Both are bounded by how far answers vary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatewise.proxy.record import RequestRecord

__all__ = ["Estimator"]

DEFAULT_OUTPUT = 256
WEIGHT = 0.2  # of the newest answer in the moving average


class Estimator:
    """Learns each model group's output size; prices come from ``prices``:
    ``group -> (input, output)`` cost per token (the dearest deployment of the group)."""

    def __init__(self, prices: Mapping[str, tuple[float, float]]) -> None:
        self._prices = dict(prices)
        self._output: dict[str, float] = {}

    def reserve(self, group: str, prompt_tokens: int, params: Mapping[str, Any]) -> float:
        price_in, price_out = self._prices.get(group, (0.0, 0.0))
        if not price_in and not price_out:
            return 0.0
        output = self._output.get(group, DEFAULT_OUTPUT)
        limit = params.get("max_completion_tokens") or params.get("max_tokens")
        if type(limit) is int and 0 < limit < output:
            output = limit
        return prompt_tokens * price_in + output * price_out

    # -- the sink ---------------------------------------------------------------------------

    def emit(self, record: RequestRecord) -> None:
        group = record.model_group
        if group is None or record.status != 200 or record.usage_estimated:
            return
        seen = self._output.get(group)
        tokens = float(record.completion_tokens)
        self._output[group] = tokens if seen is None else seen + WEIGHT * (tokens - seen)

    async def aclose(self) -> None:
        return None
