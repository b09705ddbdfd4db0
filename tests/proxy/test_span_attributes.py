"""A request span's attributes come in two parts: those a handful of the record's fields
decide (encoded once per combination and reused) and those of the call alone.  Reusing an
encoding is only right if the first part reads nothing but ``FIXED_FIELDS``: checked here
field by field, and the two parts together are ``record_attributes``."""

from __future__ import annotations

import dataclasses
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from gatewise.record import RequestRecord
from gatewise.telemetry.otel.attributes import (
    FIXED_FIELDS,
    fixed_attributes,
    record_attributes,
    varying_attributes,
)
from gatewise.telemetry.otel.otlp import SERVER, Encoder, SpanData, encode_attributes


def _record(**changes: Any) -> RequestRecord:
    record = RequestRecord(
        "call-1", "chat", 1_700_000_000.5, key_id="tok", key_alias="app", team_id="t1",
        team_alias="Team", user_id="u", end_user="e", model_group="small",
        deployment_id="small-a", model="mistral/mistral-small-latest", stream=True,
        status=200, prompt_tokens=12, completion_tokens=34, reasoning_tokens=5, cost=0.0012,
        latency=0.5, upstream_latency=0.4, overhead=0.001, ttft=0.2, retries=1,
        fallbacks=1, mock=True, abandoned=True, response_model="mistral-small-2501",
        finish_reasons=("stop",), request_params={"temperature": 0.2, "max_tokens": 64},
        usage_estimated=True)
    return dataclasses.replace(record, **changes)


# A value different from _record()'s for every field (of its type).
_OTHER: dict[str, Any] = {
    "call_id": "call-2", "route": "embeddings", "start": 1.0, "key_id": "k2",
    "key_alias": "other", "team_id": "t2", "team_alias": "Other", "user_id": "u2",
    "end_user": "e2", "model_group": "large", "deployment_id": "large-a",
    "model": "other/large-latest", "stream": False, "status": 500,
    "error_type": "upstream_error", "prompt_tokens": 1, "completion_tokens": 2,
    "reasoning_tokens": 0, "cost": 0.5, "usage_estimated": False, "latency": 2.0,
    "upstream_latency": 1.0, "overhead": 0.5, "ttft": 0.9, "retries": 0, "fallbacks": 0,
    "mock": False, "cached": True, "abandoned": False, "response_model": "m2",
    "finish_reasons": ("length",), "trace_id": "ab" * 16,
    "request_params": {"temperature": 0.9}, "prompt": [{"role": "user"}],
    "completion": ["x"], "span": object()}


def test_every_record_field_has_another_value_here() -> None:
    assert set(_OTHER) == {f.name for f in dataclasses.fields(RequestRecord)}


def test_the_fixed_part_reads_only_the_fixed_fields() -> None:
    base = fixed_attributes(_record())
    for name, value in _OTHER.items():
        changed = fixed_attributes(_record(**{name: value}))
        if name in FIXED_FIELDS:
            assert changed != base, f"{name} is a fixed field that changes nothing"
        else:
            assert changed == base, f"{name} changes the fixed attributes: add it to " \
                                    "FIXED_FIELDS, or read it in varying_attributes"


def test_the_two_parts_make_the_whole_without_overlap() -> None:
    for record in (_record(), _record(error_type="timeout", status=504, team_alias=None)):
        fixed, varying = fixed_attributes(record), varying_attributes(record)
        assert not set(fixed) & set(varying)
        assert {**fixed, **varying} == record_attributes(record)


def test_a_span_with_encoded_attributes_reads_as_one_with_them_all() -> None:
    record = _record()
    encoder = Encoder({"service.name": "t"}, "t")
    split = SpanData(1, 2, 0, "chat small", SERVER, 10, 20, varying_attributes(record),
                     fixed=encode_attributes(fixed_attributes(record)))
    whole = SpanData(1, 2, 0, "chat small", SERVER, 10, 20, record_attributes(record))

    def attributes(span: SpanData) -> dict[str, str]:
        parsed = Span()
        parsed.ParseFromString(encoder.span(span))
        return {a.key: str(a.value) for a in parsed.attributes}

    assert attributes(split) == attributes(whole)
    assert len(attributes(whole)) == len(record_attributes(record))
