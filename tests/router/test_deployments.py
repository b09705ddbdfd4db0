"""Deployments: stable secret-free ids, routing fields split from call params, validation."""

from __future__ import annotations

import pytest

from gatewise.router.deployments import build_deployments, redact
from tests.router._helpers import MODEL, entry

SECRET = "sk-very-secret-0042"


def test_ids_are_stable_unique_and_secret_free() -> None:
    model_list = [entry("small", api_key=SECRET, rpm=600), entry("small", api_key="k2", rpm=600),
                  entry("large", api_key=SECRET)]
    first = build_deployments(model_list)
    again = build_deployments(model_list)
    assert [d.id for d in first] == [d.id for d in again]
    assert len({d.id for d in first}) == 3
    assert first[1].id == f"{first[0].id}-2"  # same but for the key: a suffix, not the key
    other_key = build_deployments([entry("small", api_key="another", rpm=600)])
    assert other_key[0].id == first[0].id
    for d in first:
        assert SECRET not in repr(d) and SECRET not in str(d.describe())


def test_explicit_id_routing_fields_and_call_params() -> None:
    (d,) = build_deployments([{
        "model_name": "small", "model_info": {"id": "eu-1", "region": "eu"}, "order": 2,
        "params": {"model": MODEL, "api_key": SECRET, "api_base": "http://x/v1", "rpm": 10,
                   "tpm": 1000, "weight": 2, "timeout": 5, "stream_timeout": 1,
                   "temperature": 0.2},
    }])
    assert (d.id, d.model_name, d.model, d.order) == ("eu-1", "small", MODEL, 2)
    assert (d.rpm, d.tpm, d.weight, d.timeout, d.stream_timeout) == (10, 1000, 2.0, 5.0, 1.0)
    assert dict(d.params) == {"api_key": SECRET, "api_base": "http://x/v1", "temperature": 0.2}
    assert d.api_base == "http://x/v1"
    assert d.model_info["region"] == "eu"


def test_litellm_params_spelling_is_accepted() -> None:
    (d,) = build_deployments([{"model_name": "s", "litellm_params": {"model": MODEL}}])
    assert d.model == MODEL


@pytest.mark.parametrize(("model_list", "message"), [
    ([], "empty"),
    ([{"params": {"model": MODEL}}], "model_name"),
    ([{"model_name": "s", "params": {}}], "'model'"),
    ([entry("s", rpm=0)], "rpm must be a positive"),
    ([entry("s", rpm=1.5)], "whole number"),
    ([entry("s", timeout="soon")], "timeout"),
    ([entry("s", "x"), entry("t", "x")], "share model_info.id"),
])
def test_invalid_model_lists_are_refused(model_list: list[dict[str, object]],
                                         message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_deployments(model_list)


def test_redact_masks_keys_and_secret_headers() -> None:
    params = {"api_key": SECRET, "max_tokens": 5, "tpm": 9,
              "extra_headers": {"Authorization": f"Bearer {SECRET}", "X-Team": "a"}}
    assert redact(params) == {"api_key": "***", "max_tokens": 5, "tpm": 9,
                              "extra_headers": {"Authorization": "***", "X-Team": "a"}}
