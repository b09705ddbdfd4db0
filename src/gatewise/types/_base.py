"""The base of every public type: attribute access, plain-JSON dumps, unknown keys kept."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, PrivateAttr


class OpenAIObject(BaseModel):
    """An OpenAI-shaped object.

    Fields the upstream adds that we don't know are kept (``extra="allow"``), so a new key
    from the provider never breaks parsing and is still there in ``model_dump()``.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())

    def __str__(self) -> str:
        return self.__repr__()


class Costed(OpenAIObject):
    """A response that knows what it cost (set by the client from the catalogue's prices)."""

    _cost: float | None = PrivateAttr(default=None)

    @property
    def cost(self) -> float | None:
        """What the call cost in USD by the catalogue's prices, or None if they are unknown."""
        return self._cost
