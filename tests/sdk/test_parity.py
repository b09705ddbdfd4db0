"""Sync and async twins stay in step: same public names, same signatures."""

import inspect

import gatewise
from gatewise import _api


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")}


def test_clients_match_name_for_name() -> None:
    sync, async_ = _public(gatewise.Client), _public(gatewise.AsyncClient)
    assert set(sync) - {"close"} == set(async_) - {"aclose"}
    for name in set(sync) - {"close"}:
        assert sync[name].parameters == async_[name].parameters, name
        assert inspect.iscoroutinefunction(getattr(gatewise.AsyncClient, name)), name


def test_module_functions_match() -> None:
    for name in ("completion", "embedding"):
        assert inspect.signature(getattr(_api, name)).parameters == inspect.signature(
            getattr(_api, "a" + name)).parameters
