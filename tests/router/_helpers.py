"""Shared bits for the router tests: a fake clock and deployment builders."""

from __future__ import annotations

from typing import Any

from gatewise.router.deployments import Deployment

MODEL = "mistral/mistral-small-latest"
HELLO = [{"role": "user", "content": "hello router"}]


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def deployment(id: str, *, model_name: str = "g", **fields: Any) -> Deployment:
    return Deployment(id=id, model_name=model_name, model=MODEL, params={}, **fields)


def entry(name: str, id: str | None = None, **params: Any) -> dict[str, Any]:
    """A ``model_list`` entry; ``params`` go into its ``params``."""
    item: dict[str, Any] = {"model_name": name, "params": {"model": MODEL, **params}}
    if id is not None:
        item["model_info"] = {"id": id}
    return item
