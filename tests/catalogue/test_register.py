"""Adding and overriding entries at run time: per instance, keeping the facts not given."""

from __future__ import annotations

import dataclasses

import pytest

from gatewise.catalogue import Catalogue, ModelInfo, default_catalogue


def test_override_one_price_keeps_the_other_facts(catalogue: Catalogue) -> None:
    before = catalogue.get("mistral/mistral-small-2603")
    after = catalogue.register("mistral/mistral-small-2603", input_cost_per_token=1e-07)
    assert after.input_cost_per_token == 1e-07
    assert dataclasses.replace(after, input_cost_per_token=before.input_cost_per_token) == before
    assert catalogue.get("mistral/mistral-small-2603") == after
    # each name is its own entry: the alias keeps the public price
    assert catalogue.get("mistral/mistral-small-latest").input_cost_per_token == 1.5e-07


def test_registering_is_per_instance(catalogue: Catalogue) -> None:
    other = Catalogue()
    catalogue.register("mistral/mistral-tiny", input_cost_per_token=0.0)
    catalogue.register("mistral/ft:tiny:1", max_input_tokens=32000)
    assert other.get("mistral/mistral-tiny").input_cost_per_token == 2.5e-07
    assert not other.get("mistral/ft:tiny:1").known
    assert default_catalogue().get("mistral/mistral-tiny").input_cost_per_token == 2.5e-07
    assert not default_catalogue().get("mistral/ft:tiny:1").known


def test_register_a_new_model(catalogue: Catalogue) -> None:
    info = catalogue.register("my-model", provider="acme", max_input_tokens=8000,
                              input_cost_per_token=1e-6, output_cost_per_token=2e-6,
                              reasoning="native", reasoning_effort_levels=["low", "high"])
    assert info == catalogue.get("acme/my-model")
    assert info.known
    assert info.reasoning_effort_levels == ("low", "high")
    assert info.mode == "chat"
    assert not info.supports_vision
    assert info in catalogue.list(provider="acme")
    assert "acme/my-model" in catalogue


def test_new_model_with_a_known_canonical_starts_from_its_facts(catalogue: Catalogue) -> None:
    info = catalogue.register("mistral/ft:mistral-small-2603:abc", canonical="mistral-small-2603",
                              input_cost_per_token=3e-07)
    small = catalogue.get("mistral/mistral-small-2603")
    assert info.model == "ft:mistral-small-2603:abc"
    assert info.max_input_tokens == small.max_input_tokens == 262144
    assert info.reasoning_effort_levels == ("none", "high")
    assert info.input_cost_per_token == 3e-07
    assert info.output_cost_per_token == small.output_cost_per_token
    assert "ft:mistral-small-2603:abc" in small.aliases
    assert info.aliases == ("mistral-small-2603", "mistral-small-latest")


def test_register_a_whole_model_info(catalogue: Catalogue) -> None:
    info = ModelInfo(provider="acme", model="x", max_input_tokens=10, known=False)
    registered = catalogue.register(info)
    assert registered.known
    assert registered.max_input_tokens == 10
    replaced = catalogue.register(ModelInfo(provider="mistral", model="mistral-tiny"))
    assert replaced.input_cost_per_token is None  # a whole info replaces the entry
    assert replaced.canonical is None
    assert "mistral-tiny" not in catalogue.get("mistral/open-mistral-7b").aliases


def test_register_loads_the_packaged_data_first(catalogue: Catalogue) -> None:
    catalogue.register("acme/x", max_input_tokens=1)
    assert catalogue.get("mistral/mistral-tiny").known
    assert catalogue.get("acme/x").known


def test_register_rejects_bad_input(catalogue: Catalogue) -> None:
    with pytest.raises(ValueError, match="provider"):
        catalogue.register("no-provider", max_input_tokens=1)
    with pytest.raises(TypeError, match="unknown fact"):
        catalogue.register("mistral/mistral-tiny", context_window=1)
    with pytest.raises(TypeError, match="unknown fact"):
        catalogue.register("mistral/mistral-tiny", aliases=("x",))
    with pytest.raises(TypeError):
        catalogue.register(ModelInfo(provider="a", model="b"), max_input_tokens=1)  # type: ignore[call-overload]
    assert catalogue.get("mistral/mistral-tiny").input_cost_per_token == 2.5e-07
