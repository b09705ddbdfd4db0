"""Multipart form bodies as the fake reads them (whole: it is a test server), and as
FastAPI would hand them to a pydantic model: repeated names become lists, strings become
numbers and booleans where the schema says so."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

from .validator import Error, schemas


@dataclass
class Upload:
    """A file part."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    data: list[bytes] = field(default_factory=list)


def parse_form(raw: bytes, content_type: str) -> list[tuple[str, str | Upload]] | None:
    """The form's parts in order: (name, text) or (name, Upload) for a part with a
    filename; None when the body is not a multipart form."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        return None
    parts: list[_Part] = []
    header: list[bytes] = [b"", b""]

    def begin() -> None:
        parts.append(_Part())

    def field_name(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def field_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def header_end() -> None:
        parts[-1].headers[header[0].lower()] = header[1]
        header[:] = [b"", b""]

    def part_data(data: bytes, start: int, end: int) -> None:
        parts[-1].data.append(data[start:end])

    parser = MultipartParser(boundary, {
        "on_part_begin": begin, "on_header_field": field_name,
        "on_header_value": field_value, "on_header_end": header_end,
        "on_part_data": part_data})
    try:
        parser.write(raw)
        parser.finalize()
    except Exception:
        return None
    form: list[tuple[str, str | Upload]] = []
    for part in parts:
        _, disposition = parse_options_header(part.headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode()
        data = b"".join(part.data)
        if b"filename" in disposition:
            kind = part.headers.get(b"content-type", b"application/octet-stream").decode()
            form.append((name, Upload(disposition[b"filename"].decode(), kind, data)))
        else:
            form.append((name, data.decode("utf-8", "replace")))
    return form


def _types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a property takes (through ``anyOf`` and ``$ref``)."""
    if "$ref" in schema:
        return _types(schemas()[str(schema["$ref"]).rsplit("/", 1)[1]])
    if "anyOf" in schema:
        return set().union(*(_types(branch) for branch in schema["anyOf"]))
    return {str(schema.get("type", "any"))}


def form_body(form: list[tuple[str, str | Upload]], schema_name: str
              ) -> tuple[dict[str, Any], list[Error]]:
    """The form as the JSON object FastAPI validates: files become a placeholder string
    (the schema's ``format: binary``), and values are converted by the property's type.
    A name the schema does not declare is refused (``extra_forbidden``): stricter than
    FastAPI, which would drop it silently, so a client's misspelt field cannot pass."""
    properties: dict[str, Any] = schemas()[schema_name]["properties"]
    body: dict[str, Any] = {}
    errors: list[Error] = []
    for name, value in form:
        text = f"<file {value.filename}>" if isinstance(value, Upload) else value
        if name not in properties:
            errors.append({"type": "extra_forbidden", "loc": ["body", name],
                           "msg": "Extra inputs are not permitted", "input": text})
            continue
        kinds = _types(properties[name])
        if "array" in kinds:
            body.setdefault(name, []).append(text)
        elif "boolean" in kinds and not isinstance(value, Upload):
            body[name] = {"true": True, "false": False}.get(text.lower(), text)
        elif "number" in kinds and not isinstance(value, Upload):
            try:
                body[name] = float(text)
            except ValueError:
                body[name] = text
        else:
            body[name] = text
    return body, errors
