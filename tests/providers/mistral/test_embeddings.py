"""Embeddings: request body, batching, response and merging."""

from __future__ import annotations

from typing import Any

import pytest

from gatewise._exceptions import BadRequestError, UnsupportedParamsError
from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.mistral import (
    build_embedding_body,
    merge_embedding_responses,
    parse_embedding_response,
    split_embedding_inputs,
)
from gatewise.providers.mistral.embeddings import BODY_FIELDS, approximate_tokens
from tests.fake_mistral import validate_body

EMBED = ModelInfo(provider="mistral", model="mistral-embed", mode="embedding",
                  embedding_dimensions=1024)
CODESTRAL = ModelInfo(provider="mistral", model="codestral-embed", mode="embedding",
                      embedding_dimensions=1536, max_embedding_dimensions=3072,
                      supports_output_dimension=True)


def build(input: Any = "hello", **params: Any) -> dict[str, Any]:
    drop = params.pop("drop_params", False)
    info = params.pop("model_info", EMBED)
    return build_embedding_body(info.model, input, params, drop_params=drop, model_info=info)


@pytest.mark.parametrize("value", ["one", ["one", "two"]])
def test_input_string_or_list(value: Any) -> None:
    body = build(value)
    assert body == {"model": "mistral-embed", "input": value}
    assert validate_body("EmbeddingRequest", body) == []


def test_passthrough_and_noise() -> None:
    body = build(["a"], encoding_format="base64", output_dtype="int8", metadata={"k": "v"},
                 user="u", extra_headers={"x": "y"}, timeout=None)
    assert body == {"model": "mistral-embed", "input": ["a"], "encoding_format": "base64",
                    "output_dtype": "int8", "metadata": {"k": "v"}}
    assert validate_body("EmbeddingRequest", body) == []


def test_dimensions_become_output_dimension_where_supported() -> None:
    body = build(dimensions=256, model_info=CODESTRAL)
    assert body["output_dimension"] == 256
    assert "dimensions" not in body
    assert validate_body("EmbeddingRequest", body) == []


@pytest.mark.parametrize("info", [EMBED, None])
def test_dimensions_elsewhere_are_unsupported(info: ModelInfo | None) -> None:
    with pytest.raises(UnsupportedParamsError, match="dimensions"):
        build_embedding_body("mistral-embed", "x", {"dimensions": 256}, model_info=info)
    assert "output_dimension" not in build_embedding_body(
        "mistral-embed", "x", {"dimensions": 256}, drop_params=True, model_info=info)


def test_unknown_params_are_unsupported_unless_dropped() -> None:
    with pytest.raises(UnsupportedParamsError, match="input_type"):
        build(input_type="query")
    assert build(input_type="query", drop_params=True) == {"model": "mistral-embed",
                                                           "input": "hello"}


def test_extra_body_adds_new_fields() -> None:
    assert build(extra_body={"truncate": True})["truncate"] is True


@pytest.mark.parametrize("name", sorted(BODY_FIELDS))
def test_extra_body_cannot_replace_a_field_gatewise_writes(name: str) -> None:
    with pytest.raises(BadRequestError) as info:
        build(extra_body={name: 8, "truncate": True})
    assert info.value.param == f"extra_body.{name}"


def test_bad_input_is_refused() -> None:
    with pytest.raises(BadRequestError, match="input"):
        build(42)


# ---- batching ------------------------------------------------------------------------

def test_batches_respect_the_input_count() -> None:
    inputs = [f"text {i}" for i in range(1100)]
    batches = split_embedding_inputs(inputs)
    assert [len(b) for b in batches] == [512, 512, 76]
    assert [x for b in batches for x in b] == inputs


def test_batches_respect_the_token_estimate() -> None:
    inputs = ["x" * 35_000, "y" * 35_000, "z" * 10]  # 10,000 estimated tokens each
    assert split_embedding_inputs(inputs, max_tokens=16_000) == [[inputs[0]],
                                                                 [inputs[1], inputs[2]]]


def test_an_input_too_big_alone_gets_its_own_batch() -> None:
    inputs = ["a", "b" * 100_000, "c"]
    assert split_embedding_inputs(inputs) == [["a"], [inputs[1]], ["c"]]


def test_no_inputs_no_batches() -> None:
    assert split_embedding_inputs([]) == []


@pytest.mark.parametrize(("text", "tokens"), [("", 0), ("abcdefg", 2), ("a" * 35, 10),
                                              ("日本語", 3), ("é" * 3, 2)])
def test_token_estimate(text: str, tokens: int) -> None:
    assert approximate_tokens(text) == tokens


# ---- responses -----------------------------------------------------------------------

# Real body, 2024-11 (reference §7), vectors shortened.
ANSWER = {"id": "27f8324828d34f1d9a87575da7b5aecb", "object": "list",
          "data": [{"object": "embedding", "embedding": [-0.0165, 0.02], "index": 0},
                   {"object": "embedding", "embedding": [0.1, 0.2], "index": 1}],
          "model": "mistral-embed",
          "usage": {"prompt_tokens": 15, "total_tokens": 15, "completion_tokens": 0}}


def test_parse() -> None:
    assert parse_embedding_response(ANSWER, model="mistral-embed") == {
        "object": "list",
        "data": [{"object": "embedding", "embedding": [-0.0165, 0.02], "index": 0},
                 {"object": "embedding", "embedding": [0.1, 0.2], "index": 1}],
        "model": "mistral-embed", "usage": {"prompt_tokens": 15, "total_tokens": 15}}


def test_parse_tolerates_missing_keys() -> None:
    parsed = parse_embedding_response({"data": [{"embedding": "AAAA"}]}, model="m")
    assert parsed == {"object": "list", "data": [{"object": "embedding", "embedding": "AAAA",
                                                  "index": 0}],
                      "model": "m", "usage": {"prompt_tokens": 0, "total_tokens": 0}}


def test_merge_concatenates_reindexes_and_sums() -> None:
    first = parse_embedding_response(ANSWER, model="mistral-embed")
    second = parse_embedding_response(
        {"data": [{"embedding": [9.0], "index": 0}], "model": "mistral-embed",
         "usage": {"prompt_tokens": 4, "total_tokens": 4}}, model="mistral-embed")
    merged = merge_embedding_responses([first, second])
    assert [(d["index"], d["embedding"]) for d in merged["data"]] == [
        (0, [-0.0165, 0.02]), (1, [0.1, 0.2]), (2, [9.0])]
    assert merged["usage"] == {"prompt_tokens": 19, "total_tokens": 19}
    assert merged["model"] == "mistral-embed"
    assert first["data"][0]["index"] == 0  # parts untouched


def test_merge_orders_each_part_by_index() -> None:
    part = {"object": "list", "model": "m", "usage": {"prompt_tokens": 1, "total_tokens": 1},
            "data": [{"object": "embedding", "embedding": [1.0], "index": 1},
                     {"object": "embedding", "embedding": [0.0], "index": 0}]}
    assert [d["embedding"] for d in merge_embedding_responses([part])["data"]] == [[0.0],
                                                                                  [1.0]]
