"""Tools, tool choice and tool-call ids: OpenAI's shapes -> Mistral's.

Mistral checks three things OpenAI does not (reference §2.2-2.3): every function tool has
``parameters``; function names match ``^[a-zA-Z0-9_-]{1,64}$``; tool-call ids are exactly
nine ASCII letters or digits.  Its constrained-decoding grammar also refuses some JSON-schema
meta keywords (``$schema``/``$id`` made it answer "failed to compile JSON schema", LiteLLM
PR #13389), so those are stripped from tool parameters and response schemas.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from gatewise.providers.base import JSON
from gatewise.providers.mistral.checks import bad

_TOOL_CALL_ID = re.compile(r"[A-Za-z0-9]{9}")
_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

EMPTY_PARAMETERS: JSON = {"type": "object", "properties": {}}

# What each JSON-schema keyword holds, for the cleaner: one lookup per key.
_META, _SCHEMA, _SCHEMAS, _SCHEMA_MAP = range(4)
_KEYWORDS: dict[str, int] = {
    # Annotation-only keywords that say nothing about the shape of valid JSON.  Structural
    # ones ($ref, $defs, definitions) stay: dropping them would change the schema.
    **dict.fromkeys(("$schema", "$id", "$comment", "$anchor", "$dynamicAnchor",
                     "$vocabulary"), _META),
    # One schema ("items" may also be a list of schemas, in draft 4-7).
    **dict.fromkeys(("items", "additionalProperties", "not", "if", "then", "else",
                     "contains", "propertyNames", "unevaluatedItems",
                     "unevaluatedProperties", "additionalItems"), _SCHEMA),
    **dict.fromkeys(("anyOf", "allOf", "oneOf", "prefixItems"), _SCHEMAS),
    **dict.fromkeys(("properties", "patternProperties", "$defs", "definitions",
                     "dependentSchemas"), _SCHEMA_MAP),
}
_DROP = object()  # sentinel: "remove this key"

# Built-in (server-side) tools Mistral's schema knows; each takes a tool_configuration,
# document_library also library_ids, connector also connector_id and authorization.
_BUILTIN_TOOLS = ("web_search", "web_search_premium", "code_interpreter", "image_generation",
                  "document_library", "connector")
_TOOL_CONFIGURATION_KEYS = frozenset({"exclude", "include", "requires_confirmation"})
_AUTHORIZATION_TYPES = ("api-key", "oauth2-token")


def mistral_tool_call_id(call_id: str) -> str:
    """A valid id unchanged; anything else mapped to a stable 9-character id.

    The same input always gives the same output, so an assistant's ``tool_calls[i].id`` and
    the matching tool message's ``tool_call_id`` stay paired after translation.
    """
    if _TOOL_CALL_ID.fullmatch(call_id):
        return call_id
    # surrogatepass: a lone surrogate still gets an id (the JSON encoder refuses it later)
    digest = hashlib.sha256(call_id.encode("utf-8", "surrogatepass")).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(9):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


def clean_json_schema(schema: Any) -> Any:
    """``schema`` without the meta keywords Mistral's grammar compiler rejects.

    Copy-on-write: returns the very same object when nothing had to go, so big schemas
    are not copied on every request.  Only schema positions are visited: a property
    *named* ``$id`` and values under ``enum``/``const``/``default`` are data, left alone.
    """
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] | None = None
    for key, value in schema.items():
        kind = _KEYWORDS.get(key)
        if kind is None:
            continue
        if kind == _META:
            new_value: Any = _DROP
        elif isinstance(value, dict):
            new_value = _clean_map(value) if kind == _SCHEMA_MAP else clean_json_schema(value)
        elif isinstance(value, list) and kind in (_SCHEMAS, _SCHEMA):
            new_value = _clean_list(value)
        else:
            continue
        if new_value is not value:
            if cleaned is None:
                cleaned = dict(schema)
            if new_value is _DROP:
                del cleaned[key]
            else:
                cleaned[key] = new_value
    return schema if cleaned is None else cleaned


def checked_schema(schema: dict[str, Any], *, path: str) -> Any:
    """:func:`clean_json_schema` for a caller's schema at ``path``; one nested beyond
    Python's recursion limit is refused rather than crashing the request."""
    try:
        return clean_json_schema(schema)
    except RecursionError:
        raise bad(path, "is nested too deeply") from None


def _clean_map(schemas: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] | None = None
    for name, sub in schemas.items():
        new = clean_json_schema(sub)
        if new is not sub:
            if out is None:
                out = dict(schemas)
            out[name] = new
    return schemas if out is None else out


def _clean_list(schemas: list[Any]) -> list[Any]:
    out: list[Any] | None = None
    for i, sub in enumerate(schemas):
        new = clean_json_schema(sub)
        if new is not sub:
            if out is None:
                out = list(schemas)
            out[i] = new
    return schemas if out is None else out


def is_function_name(name: str) -> bool:
    return _FUNCTION_NAME.fullmatch(name) is not None


def check_function_name(name: Any, *, path: str) -> str:
    if not isinstance(name, str) or not _FUNCTION_NAME.fullmatch(name):
        raise bad(path, f"function name {name!r} is not accepted by Mistral: it must be 1-64 "
                        "characters of a-z, A-Z, 0-9, underscores or dashes")
    return name


def _function_tool(function: Any, *, path: str) -> JSON:
    if not isinstance(function, dict):
        raise bad(path, "must be an object")
    out: JSON = {"name": check_function_name(function.get("name"), path=f"{path}.name")}
    description = function.get("description")
    if isinstance(description, str):
        out["description"] = description
    elif description is not None:
        raise bad(f"{path}.description", "must be a string")
    parameters = function.get("parameters")
    if isinstance(parameters, dict):
        out["parameters"] = checked_schema(parameters, path=f"{path}.parameters")
    elif parameters is None:
        out["parameters"] = EMPTY_PARAMETERS
    else:
        raise bad(f"{path}.parameters", "must be a JSON schema object")
    strict = function.get("strict")
    if isinstance(strict, bool):
        out["strict"] = strict
    elif strict is not None:
        raise bad(f"{path}.strict", "must be true or false")
    return {"type": "function", "function": out}


def _strings(value: Any, path: str, *, nonempty: bool = False) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad(path, "must be a list of strings")
    if nonempty and not value:
        raise bad(path, "must not be empty")


def _builtin_tool(tool: JSON, kind: str, path: str) -> JSON:
    """A Mistral built-in tool, with the keys its schema has, each checked."""
    out: JSON = {"type": kind}
    configuration = tool.get("tool_configuration")
    if configuration is not None:
        where = f"{path}.tool_configuration"
        if not isinstance(configuration, dict):
            raise bad(where, "must be an object")
        for key, value in configuration.items():
            if key not in _TOOL_CONFIGURATION_KEYS:
                raise bad(f"{where}.{key}", "is not a tool_configuration field")
            if value is not None:
                _strings(value, f"{where}.{key}")
        out["tool_configuration"] = configuration
    if kind == "document_library":
        _strings(tool.get("library_ids"), f"{path}.library_ids", nonempty=True)
        out["library_ids"] = tool["library_ids"]
    elif kind == "connector":
        if not isinstance(tool.get("connector_id"), str):
            raise bad(f"{path}.connector_id", "must be a string")
        out["connector_id"] = tool["connector_id"]
        authorization = tool.get("authorization")
        if authorization is not None:
            where = f"{path}.authorization"
            if not isinstance(authorization, dict) or set(authorization) - {"type", "value"} \
                    or authorization.get("type", "") not in _AUTHORIZATION_TYPES \
                    or not isinstance(authorization.get("value"), str):
                raise bad(where, "must be {'type': 'api-key' or 'oauth2-token', "
                                 "'value': <string>}")
            out["authorization"] = authorization
    return out


def translate_tools(tools: list[Any]) -> list[JSON]:
    """OpenAI ``tools`` -> Mistral ``tools``; raises ``BadRequestError`` on a bad tool."""
    out: list[JSON] = []
    for i, tool in enumerate(tools):
        path = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise bad(path, "must be an object")
        kind = tool.get("type", "function")
        if kind == "function":
            out.append(_function_tool(tool.get("function"), path=f"{path}.function"))
        elif isinstance(kind, str) and kind in _BUILTIN_TOOLS:
            out.append(_builtin_tool(tool, kind, path))
        else:
            raise bad(f"{path}.type", f"tool type {kind!r} is not one Mistral accepts: function "
                                      f"tools and its built-in tools ({', '.join(_BUILTIN_TOOLS)})")
    return out


def translate_legacy_functions(functions: list[Any]) -> list[JSON]:
    """The deprecated ``functions=[...]`` parameter -> function tools."""
    return [_function_tool(f, path=f"functions[{i}]") for i, f in enumerate(functions)]


def translate_tool_choice(choice: Any) -> str | JSON | None:
    """OpenAI ``tool_choice`` -> Mistral's; ``None`` when the value means nothing to it."""
    if choice in ("auto", "none", "any"):
        return str(choice)
    if choice == "required":
        return "any"
    if isinstance(choice, dict) and choice.get("type", "function") == "function":
        function = choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return {"type": "function", "function": {"name": function["name"]}}
    return None


def translate_legacy_function_call(choice: Any) -> str | JSON | None:
    """The deprecated ``function_call`` parameter: "auto"/"none"/``{"name": x}``."""
    if choice in ("auto", "none"):
        return str(choice)
    if isinstance(choice, dict) and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    return None


def arguments_string(arguments: Any) -> str:
    """Tool-call arguments always travel as a JSON string (answers: whatever Mistral sent)."""
    if isinstance(arguments, str):
        return arguments
    if arguments is None:
        return "{}"
    return json.dumps(arguments, ensure_ascii=False)


def request_arguments(arguments: Any, *, path: str) -> str:
    """A caller's tool-call arguments as the JSON string Mistral takes; an object (or
    nothing) is encoded here, anything else is refused."""
    if isinstance(arguments, str):
        return arguments
    if arguments is None:
        return "{}"
    if not isinstance(arguments, dict):
        raise bad(path, "must be a JSON string or an object")
    try:
        return json.dumps(arguments, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:  # NaN, sets, cycles, depth
        raise bad(path, f"cannot be encoded as JSON ({error})") from None
