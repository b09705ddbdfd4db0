"""Costs from usage and the catalogue's prices; unknown prices give None, never 0."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import BaseModel

from gatewise.catalogue import Catalogue, completion_cost, cost_for_usage


def test_prompt_tokens_at_the_input_price(catalogue: Catalogue) -> None:
    info = catalogue.get("mistral/mistral-small-latest")
    assert cost_for_usage(info, {"prompt_tokens": 1000}) == pytest.approx(1000 * 1.5e-07)
    assert cost_for_usage(info, {"prompt_tokens": 1000, "completion_tokens": 200,
                                 "total_tokens": 1200}) == pytest.approx(
        1000 * 1.5e-07 + 200 * 6e-07)


def test_cached_tokens_at_the_cached_price(catalogue: Catalogue) -> None:
    info = catalogue.get("mistral/mistral-small-latest")
    expected = 600 * 1.5e-07 + 400 * 1.5e-08 + 10 * 6e-07
    usage = {"prompt_tokens": 1000, "completion_tokens": 10,
             "prompt_tokens_details": {"cached_tokens": 400}}
    assert cost_for_usage(info, usage) == pytest.approx(expected)
    mistral_style = {"prompt_tokens": 1000, "completion_tokens": 10, "num_cached_tokens": 400}
    assert cost_for_usage(info, mistral_style) == pytest.approx(expected)
    # more cached than prompt tokens cannot be: capped
    capped = {"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 500}}
    assert cost_for_usage(info, capped) == pytest.approx(100 * 1.5e-08)
    assert cost_for_usage(info, {"prompt_tokens": 10, "prompt_tokens_details": None}) == (
        pytest.approx(10 * 1.5e-07))


def test_cached_tokens_without_a_cached_price_cost_the_input_price(catalogue: Catalogue,
                                                                   ) -> None:
    info = catalogue.get("mistral/mistral-large-2407")
    assert info.cache_read_input_token_cost is None
    usage = {"prompt_tokens": 1000, "prompt_tokens_details": {"cached_tokens": 400}}
    assert cost_for_usage(info, usage) == pytest.approx(1000 * 3e-06)


def test_embeddings(catalogue: Catalogue) -> None:
    info = catalogue.get("mistral/mistral-embed")
    usage = {"prompt_tokens": 15, "total_tokens": 15, "completion_tokens": 0}
    assert cost_for_usage(info, usage) == pytest.approx(15 * 1e-07)
    assert cost_for_usage(info, {"prompt_tokens": 15}) == pytest.approx(15 * 1e-07)
    # completion tokens a model has no price for: unknown
    assert cost_for_usage(info, {"prompt_tokens": 15, "completion_tokens": 3}) is None


def test_unknown_prices_are_none_and_known_zero_is_zero(catalogue: Catalogue) -> None:
    assert cost_for_usage(catalogue.get("mistral/nope"), {"prompt_tokens": 10}) is None
    assert cost_for_usage(catalogue.get("mistral/nope"), {}) is None
    voxtral = catalogue.get("mistral/voxtral-mini-latest")
    assert cost_for_usage(voxtral, {"prompt_tokens": 10}) is None
    free = catalogue.get("mistral/labs-leanstral-1-5")
    assert cost_for_usage(free, {"prompt_tokens": 10, "completion_tokens": 5}) == 0.0
    tiny = catalogue.get("mistral/mistral-tiny")
    assert cost_for_usage(tiny, {}) == 0.0
    assert cost_for_usage(tiny, {"prompt_tokens": None, "completion_tokens": "x"}) == 0.0


def test_ocr_pages(catalogue: Catalogue) -> None:
    info = catalogue.get("mistral/mistral-ocr-latest")
    assert cost_for_usage(info, {"pages_processed": 24, "doc_size_bytes": 1}) == pytest.approx(
        24 * 0.004)
    ocr_answer = {"pages": [], "model": "mistral-ocr-latest",
                  "usage_info": {"pages_processed": 2, "doc_size_bytes": 12640953}}
    assert completion_cost(ocr_answer, catalogue=catalogue) == pytest.approx(0.008)


def test_completion_cost_from_a_dict(catalogue: Catalogue) -> None:
    response = {"id": "x", "object": "chat.completion", "model": "mistral-small-2603",
                "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}}
    expected = 1000 * 1.5e-07 + 100 * 6e-07
    assert completion_cost(response, catalogue=catalogue) == pytest.approx(expected)
    assert completion_cost({**response, "model": "mistral/mistral-small-2603"},
                           catalogue=catalogue) == pytest.approx(expected)
    # an explicit model wins over the echoed one
    assert completion_cost(response, model="mistral/mistral-tiny",
                           catalogue=catalogue) == pytest.approx(1100 * 2.5e-07)
    assert completion_cost(response) == pytest.approx(expected)  # default catalogue


def test_completion_cost_from_objects(catalogue: Catalogue) -> None:
    class Details(BaseModel):
        cached_tokens: int = 0

    class Usage(BaseModel):
        prompt_tokens: int
        completion_tokens: int
        prompt_tokens_details: Details | None = None

    class Response(BaseModel):
        model: str
        usage: Usage | None

    usage = Usage(prompt_tokens=1000, completion_tokens=10,
                  prompt_tokens_details=Details(cached_tokens=400))
    expected = 600 * 1.5e-07 + 400 * 1.5e-08 + 10 * 6e-07
    assert completion_cost(Response(model="mistral-small-latest", usage=usage),
                           catalogue=catalogue) == pytest.approx(expected)
    plain = SimpleNamespace(model="mistral-small-latest",
                            usage=SimpleNamespace(prompt_tokens=1000, completion_tokens=10,
                                                  prompt_tokens_details=SimpleNamespace(
                                                      cached_tokens=400)))
    assert completion_cost(plain, catalogue=catalogue) == pytest.approx(expected)
    assert completion_cost(Response(model="mistral-small-latest", usage=None),
                           catalogue=catalogue) is None


def test_completion_cost_unknowns(catalogue: Catalogue) -> None:
    usage = {"prompt_tokens": 10}
    assert completion_cost({"model": "nope", "usage": usage}, catalogue=catalogue) is None
    assert completion_cost({"usage": usage}, catalogue=catalogue) is None
    assert completion_cost({"model": "mistral-tiny"}, catalogue=catalogue) is None
    assert completion_cost(object(), catalogue=catalogue) is None
    custom = Catalogue({"acme/m": {"input_cost_per_token": 1.0}})
    assert completion_cost({"model": "m", "usage": usage}, catalogue=custom,
                           default_provider="acme") == 10.0
