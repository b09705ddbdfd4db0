"""Moderation results, shaped like OpenAI's ``/v1/moderations`` (the provider's category
names kept)."""

from __future__ import annotations

from gatewise.types._base import Costed, OpenAIObject
from gatewise.types.chat import Usage


class ModerationResult(OpenAIObject):
    """One input's verdict: ``flagged`` when any category is."""

    flagged: bool = False
    categories: dict[str, bool]
    category_scores: dict[str, float]


class ModerationResponse(Costed):
    """``response.results[i].flagged``, one result per input (or per conversation)."""

    id: str
    model: str
    results: list[ModerationResult]
    usage: Usage | None = None
