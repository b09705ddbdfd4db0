"""Validate request bodies against Mistral's OpenAPI schemas, reporting errors like pydantic v2.

Only the JSON-Schema subset used by ``openapi_subset.json`` is supported. The server behind
api.mistral.ai is FastAPI + pydantic, so errors mimic pydantic's: every error at once, ``loc``
prefixed with ``"body"``, the tag of a discriminated union inserted after the list index, and
each branch of a plain (non-nullable) union reported under pydantic's label for that branch.
Two deliberate departures make the fake stricter than pydantic's lax mode: a JSON ``true`` is
not a number, and a numeric string is not a number.
"""

from __future__ import annotations

import json
import operator
import re
from functools import cache
from pathlib import Path
from typing import Any

Loc = tuple[str | int, ...]
Error = dict[str, Any]

_REF = "#/components/schemas/"
_BOUNDS = {
    "minimum": ("ge", "greater_than_equal", "greater than or equal to", operator.ge),
    "exclusiveMinimum": ("gt", "greater_than", "greater than", operator.gt),
    "maximum": ("le", "less_than_equal", "less than or equal to", operator.le),
    "exclusiveMaximum": ("lt", "less_than", "less than", operator.lt),
}
_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "none"}
_CONSTRAINTS = {*_BOUNDS, "minLength", "maxLength", "pattern"}


@cache
def schemas() -> dict[str, Any]:
    """The named request schemas (``components.schemas`` subset), loaded on first use."""
    path = Path(__file__).with_name("openapi_subset.json")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def validate_body(schema_name: str, body: Any) -> list[Error]:
    """All validation errors of ``body`` against the named schema; empty when valid."""
    if not isinstance(body, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        return [_error("model_attributes_type", ("body",), msg, body)]
    return _check(schemas()[schema_name], body, ("body",), schema_name)


def _error(kind: str, loc: Loc, msg: str, value: Any, ctx: dict[str, Any] | None = None) -> Error:
    error: Error = {"type": kind, "loc": list(loc), "msg": msg, "input": value}
    if ctx is not None:
        error["ctx"] = ctx
    return error


def _ref_name(schema: dict[str, Any]) -> str:
    return str(schema["$ref"]).removeprefix(_REF)


def _check(schema: dict[str, Any], value: Any, loc: Loc, name: str | None = None) -> list[Error]:
    if "$ref" in schema:
        ref = _ref_name(schema)
        return _check(schemas()[ref], value, loc, ref)
    if "allOf" in schema:  # the answers' schemas extend one another this way
        errors: list[Error] = []
        for part in schema["allOf"]:
            errors += [e for e in _check(part, value, loc) if e not in errors]
        return errors
    if "oneOf" in schema and "discriminator" in schema:
        return _check_tagged_union(schema, value, loc)
    if "anyOf" in schema or "oneOf" in schema:
        return _check_union(schema.get("anyOf") or schema["oneOf"], value, loc)
    if "const" in schema or "enum" in schema:
        return _check_choice(schema, value, loc, named=name is not None)
    kind = schema.get("type")
    if kind == "object":
        return _check_object(schema, value, loc, name)
    if kind == "array":
        return _check_array(schema, value, loc)
    if kind == "string":
        return _check_string(schema, value, loc)
    if kind in ("integer", "number"):
        return _check_number(schema, value, loc)
    if kind == "boolean":
        return _check_boolean(value, loc)
    if kind == "null" and value is not None:
        return [_error("none_required", loc, "Input should be None", value)]
    return []


def _check_tagged_union(schema: dict[str, Any], value: Any, loc: Loc) -> list[Error]:
    key = schema["discriminator"]["propertyName"]
    tag_of = {ref: tag for tag, ref in schema["discriminator"]["mapping"].items()}
    tags = [tag_of[member["$ref"]] for member in schema["oneOf"]]
    if not isinstance(value, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        return [_error("model_attributes_type", loc, msg, value)]
    if key not in value:
        msg = f"Unable to extract tag using discriminator '{key}'"
        return [_error("union_tag_not_found", loc, msg, value, {"discriminator": f"'{key}'"})]
    tag = value[key]
    if not isinstance(tag, str) or tag not in tags:
        expected = ", ".join(f"'{t}'" for t in tags)
        msg = (
            f"Input tag '{tag}' found using '{key}' does not match any of the expected tags: "
            f"{expected}"
        )
        ctx = {"discriminator": f"'{key}'", "tag": str(tag), "expected_tags": expected}
        return [_error("union_tag_invalid", loc, msg, value, ctx)]
    member = {"$ref": schema["discriminator"]["mapping"][tag]}
    return _check(member, value, (*loc, tag))


def _check_union(branches: list[dict[str, Any]], value: Any, loc: Loc) -> list[Error]:
    """pydantic's smart union: valid if any branch is; else every branch's errors, labelled.

    ``X | None`` is pydantic's nullable wrapper: no label, just X's errors.
    """
    non_null = [branch for branch in branches if branch.get("type") != "null"]
    if value is None and len(non_null) < len(branches):
        return []
    if len(non_null) == 1:
        return _check(non_null[0], value, loc)
    errors: list[Error] = []
    for branch in non_null:
        branch_errors = _check(branch, value, (*loc, _label(branch)))
        if not branch_errors:
            return []
        errors.extend(branch_errors)
    return errors


def _label(schema: dict[str, Any]) -> str:
    """pydantic's name for a union member, as used in ``loc``."""
    if "$ref" in schema:
        name = _ref_name(schema)
        target = schemas()[name]
        if "enum" in target:
            return f"str-enum[{name}]"
        return _label(target) if "oneOf" in target else name
    if "oneOf" in schema:
        return "tagged-union[" + ",".join(_ref_name(m) for m in schema["oneOf"]) + "]"
    if "anyOf" in schema:
        return "union[" + ",".join(_label(branch) for branch in schema["anyOf"]) + "]"
    if "const" in schema or "enum" in schema:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        return "literal[" + ",".join(repr(v) for v in values) + "]"
    kind = schema.get("type")
    if kind == "array":
        return f"list[{_label(schema.get('items', {}))}]"
    if kind == "object":
        return "dict[str,any]"
    if schema.get("format") in ("uuid", "binary"):
        return "uuid" if schema["format"] == "uuid" else "bytes"
    base = _SCALARS.get(str(kind), "any")
    return f"constrained-{base}" if _CONSTRAINTS & schema.keys() else base


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _check_choice(schema: dict[str, Any], value: Any, loc: Loc, *, named: bool) -> list[Error]:
    """``const`` is a pydantic Literal; a named ``enum`` schema is a Python Enum."""
    choices = [schema["const"]] if "const" in schema else list(schema["enum"])
    if any(_same(value, choice) for choice in choices):
        return []
    shown = [repr(choice) for choice in choices]
    expected = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]
    kind = "enum" if named and "enum" in schema else "literal_error"
    return [_error(kind, loc, f"Input should be {expected}", value, {"expected": expected})]


def _check_object(schema: dict[str, Any], value: Any, loc: Loc, name: str | None) -> list[Error]:
    properties: dict[str, Any] = schema.get("properties", {})
    if not isinstance(value, dict):
        if name is not None and properties:
            msg = f"Input should be a valid dictionary or instance of {name}"
            return [_error("model_type", loc, msg, value, {"class_name": name})]
        return [_error("dict_type", loc, "Input should be a valid dictionary", value)]
    errors: list[Error] = []
    required = set(schema.get("required", ()))
    for key, subschema in properties.items():
        if key in value:
            errors += _check(subschema, value[key], (*loc, key))
        elif key in required:
            errors.append(_error("missing", (*loc, key), "Field required", value))
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties or extra is True:
            continue
        if extra is False:
            msg = "Extra inputs are not permitted"
            errors.append(_error("extra_forbidden", (*loc, key), msg, item))
        else:
            errors += _check(extra, item, (*loc, key))
    return errors


def _check_array(schema: dict[str, Any], value: Any, loc: Loc) -> list[Error]:
    if not isinstance(value, list):
        return [_error("list_type", loc, "Input should be a valid list", value)]
    if len(value) < schema.get("minItems", 0):
        return [_length_error("too_short", "least", schema["minItems"], value, loc)]
    if len(value) > schema.get("maxItems", len(value)):
        return [_length_error("too_long", "most", schema["maxItems"], value, loc)]
    items = schema.get("items", {})
    return [error for i, item in enumerate(value) for error in _check(items, item, (*loc, i))]


def _length_error(kind: str, word: str, limit: int, value: list[Any], loc: Loc) -> Error:
    count = len(value)
    msg = f"List should have at {word} {limit} item{_plural(limit)} after validation, not {count}"
    bound = "min_length" if kind == "too_short" else "max_length"
    ctx = {"field_type": "List", bound: limit, "actual_length": count}
    return _error(kind, loc, msg, value, ctx)


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


def _check_string(schema: dict[str, Any], value: Any, loc: Loc) -> list[Error]:
    if not isinstance(value, str):
        return [_error("string_type", loc, "Input should be a valid string", value)]
    if "minLength" in schema and len(value) < schema["minLength"]:
        limit = schema["minLength"]
        msg = f"String should have at least {limit} character{_plural(limit)}"
        return [_error("string_too_short", loc, msg, value, {"min_length": limit})]
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        limit = schema["maxLength"]
        msg = f"String should have at most {limit} character{_plural(limit)}"
        return [_error("string_too_long", loc, msg, value, {"max_length": limit})]
    if "pattern" in schema and not re.search(schema["pattern"], value):
        pattern = schema["pattern"]
        msg = f"String should match pattern '{pattern}'"
        return [_error("string_pattern_mismatch", loc, msg, value, {"pattern": pattern})]
    if schema.get("format") == "uuid" and (problem := _uuid_problem(value)):
        msg = f"Input should be a valid UUID, {problem}"
        return [_error("uuid_parsing", loc, msg, value, {"error": problem})]
    return []


def _uuid_problem(value: str) -> str | None:
    """pydantic's (Rust ``uuid`` crate's) complaint about ``value``, or None if it parses."""
    for position, char in enumerate(value, start=1):
        if char not in "0123456789abcdefABCDEF-":
            return f"invalid character: found `{char}` at {position}"
    groups = value.split("-")
    if len(groups) == 1:
        if len(value) != 32:
            return f"invalid length: expected length 32 for simple format, found {len(value)}"
    elif len(groups) != 5:
        return f"invalid group count: expected 5, found {len(groups)}"
    else:
        for index, (group, size) in enumerate(zip(groups, (8, 4, 4, 4, 12), strict=True)):
            if len(group) != size:
                return f"invalid group length in group {index}: expected {size}, found {len(group)}"
    return None


def _check_number(schema: dict[str, Any], value: Any, loc: Loc) -> list[Error]:
    integer = schema["type"] == "integer"
    kind, noun, article = ("int", "integer", "an") if integer else ("float", "number", "a")
    if isinstance(value, str):
        msg = f"Input should be a valid {noun}, unable to parse string as {article} {noun}"
        return [_error(f"{kind}_parsing", loc, msg, value)]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [_error(f"{kind}_type", loc, f"Input should be a valid {noun}", value)]
    if integer and isinstance(value, float) and not value.is_integer():
        msg = "Input should be a valid integer, got a number with a fractional part"
        return [_error("int_from_float", loc, msg, value)]
    for keyword, (name, error_type, words, holds) in _BOUNDS.items():
        if keyword not in schema:
            continue
        bound = schema[keyword] if integer else float(schema[keyword])
        if not holds(value, bound):
            msg = f"Input should be {words} {_number_text(bound)}"
            return [_error(error_type, loc, msg, value, {name: bound})]
    return []


def _number_text(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _check_boolean(value: Any, loc: Loc) -> list[Error]:
    if isinstance(value, bool):
        return []
    if isinstance(value, str | int | float):
        msg = "Input should be a valid boolean, unable to interpret input"
        return [_error("bool_parsing", loc, msg, value)]
    return [_error("bool_type", loc, "Input should be a valid boolean", value)]
