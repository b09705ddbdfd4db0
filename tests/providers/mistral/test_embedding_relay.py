"""Relaying an embeddings answer: each vector passes as the upstream's own bytes.

``parse_embedding_answer`` cuts the vectors out of the raw answer (views, no copy, no float
ever made) and ``gatewise._rawjson.encode_chunks`` writes the merged answer in pieces; the
result must read exactly as decoding everything would, and when the cuts cannot be trusted
the answer is decoded whole instead.
"""

from __future__ import annotations

import json
import random
import tracemalloc
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewise._exceptions import APIResponseValidationError
from gatewise._http._secrets import NO_SECRETS
from gatewise._prepare import Settings, Targets, prepare_embedding
from gatewise._rawjson import CHUNK_ITEMS, RawJSON, dumps, encode_chunks
from gatewise._results import relay_decoder
from gatewise.catalogue import Catalogue
from gatewise.providers.mistral import (
    merge_embedding_responses,
    parse_embedding_answer,
    parse_embedding_response,
)


def answer(vectors: list[Any], *, indent: int | None = None, **extra: Any) -> bytes:
    body = {"id": "e1", "object": "list", "model": "mistral-embed",
            "data": [{"object": "embedding", "embedding": v, "index": i}
                     for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": 3, "total_tokens": 3}, **extra}
    return json.dumps(body, indent=indent).encode()


def decoded(raw: bytes) -> dict[str, Any]:
    """What the plain path (decode everything) makes of ``raw``."""
    return parse_embedding_response(orjson.loads(raw), model="m")


def relay_part(raw: bytes) -> dict[str, Any]:
    parsed = parse_embedding_answer(raw, model="m")
    assert parsed is not None
    return parsed


def relayed(*raws: bytes) -> Any:
    """What a client reads after the relay path (the vectors cut out where they can be,
    else the answer decoded whole): merged, written in pieces, parsed."""
    merged = merge_embedding_responses([parse_embedding_answer(r, model="m") or decoded(r)
                                        for r in raws])
    return orjson.loads(b"".join(encode_chunks(merged)))


def test_vectors_are_views_of_the_upstreams_bytes() -> None:
    raw = answer([[0.1, -2e-05, 3], "AAAAPw=="])
    parsed = relay_part(raw)
    vectors = [item["embedding"] for item in parsed["data"]]
    assert all(isinstance(v, RawJSON) for v in vectors)
    assert [bytes(v.view) for v in vectors] == [b"[0.1, -2e-05, 3]", b'"AAAAPw=="']
    assert all(v.view.obj is raw for v in vectors)  # views: nothing copied
    assert relayed(raw) == decoded(raw)


@pytest.mark.parametrize("raw", [
    answer([[1, 2], "AA=="], indent=2),  # blanks around the colon and inside
    answer([[1]], model='x"embedding": [9]'),  # the key's text inside a string (escaped)
])
def test_answers_the_cuts_read_right_anyway(raw: bytes) -> None:
    assert parse_embedding_answer(raw, model="m") is not None
    assert relayed(raw) == decoded(raw)


@pytest.mark.parametrize("raw", [
    answer([[[1], [2]], [3]]),  # an array inside the array: the first "]" is not its end
    answer([["a]", "b"], [1]]),  # a bracket inside a string
    answer([[1]], extra={"embedding": [5]}),  # the key elsewhere
    answer([None, [1]]),  # not a vector
    answer(["ab\"cd", [1]]),  # an escaped quote in a string
])
def test_answers_the_cuts_cannot_be_trusted_with_are_decoded_whole(raw: bytes) -> None:
    assert parse_embedding_answer(raw, model="m") is None
    assert relayed(raw) == decoded(raw)


def test_indices_count_across_the_merged_parts() -> None:
    parts = [answer([[float(i)] for i in range(n)]) for n in (CHUNK_ITEMS + 5, 3, 40)]
    got = relayed(*parts)
    assert [d["index"] for d in got["data"]] == list(range(CHUNK_ITEMS + 48))
    assert got["usage"] == {"prompt_tokens": 9, "total_tokens": 9}
    assert got == orjson.loads(orjson.dumps(merge_embedding_responses(
        [decoded(p) for p in parts])))


@pytest.mark.parametrize("raw", [b'{"data": [{"embedding": [1, 2', b"[1, 2]", b"nope"])
def test_a_body_that_is_not_json_is_the_upstreams_fault(raw: bytes) -> None:
    assert parse_embedding_answer(raw, model="m") is None
    call = prepare_embedding(Settings(), Catalogue({}), "mistral/mistral-embed", "x",
                             {"mock_response": [1.0]}, Targets())[0]
    with pytest.raises(APIResponseValidationError):
        relay_decoder(call)(raw, NO_SECRETS)


floats = st.floats(allow_nan=False, allow_infinity=False, width=32)
vectors = st.one_of(st.lists(floats, max_size=6), st.text(alphabet="AZaz09+/=", max_size=8))


@settings(max_examples=200, deadline=None)
@given(st.lists(vectors, max_size=40), st.sampled_from([None, 0, 2]),
       st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]))
def test_any_answer_reads_the_same_relayed(vs: list[Any], indent: int | None,
                                           separators: tuple[str, str]) -> None:
    body = {"id": "e1", "object": "list", "model": "mistral-embed",
            "data": [{"object": "embedding", "embedding": v, "index": i}
                     for i, v in enumerate(vs)],
            "usage": {"prompt_tokens": 3, "total_tokens": 3}}
    raw = json.dumps(body, indent=indent, separators=separators).encode()
    assert relayed(raw) == decoded(raw)


def test_pieces_join_to_one_document_and_stay_bounded() -> None:
    raw = answer([[0.5] * 8] * (5 * CHUNK_ITEMS + 1))
    parsed = parse_embedding_answer(raw, model="m")
    assert parsed is not None
    merged = merge_embedding_responses([parsed])
    pieces = list(encode_chunks(merged))
    assert len(pieces) == 6 + 1  # six groups of items (the head with the first), the tail
    assert b"".join(pieces) == dumps(merged)
    assert max(len(p) for p in pieces) < 2 * len(raw) / 5
    small = merge_embedding_responses([relay_part(answer([[1]]))])
    assert len(list(encode_chunks(small))) == 1


def test_no_python_object_per_number_is_made() -> None:
    """The relay's cost is per vector, never per number: 64 vectors of 1,024 numbers made
    65,536 floats on the decoding path, and make a few objects per vector here."""
    rng = random.Random(3)
    raw = answer([[rng.uniform(-1, 1) for _ in range(1024)] for _ in range(64)])

    def traced(run: Any) -> tuple[int, int]:
        """The memory blocks ``run``'s result holds, and the peak of memory it took."""
        tracemalloc.start()
        try:
            kept = run()  # noqa: F841 - held, so what it made is still counted
            held = sum(stat.count for stat in tracemalloc.take_snapshot().statistics("filename"))
            return held, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    decoding = traced(lambda: decoded(raw))
    relaying = traced(lambda: list(encode_chunks(merge_embedding_responses([relay_part(raw)]))))
    assert decoding[0] > 64 * 1024 and decoding[1] > 10 * len(raw)
    assert relaying[0] < 64 * 20  # the pieces written, and a few objects per vector
    assert relaying[1] < 2.5 * len(raw)  # the pieces (as big as the answer), little else
