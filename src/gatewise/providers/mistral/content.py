"""Message content parts: OpenAI's part shapes -> Mistral's content chunks (reference §2.2).

Every chunk is rebuilt from the keys Mistral's schema has, so anything else a client puts
in a part (``cache_control``, ``annotations``, ...) is left behind.  Big strings (data URIs,
base64 audio) are reused, never copied.
"""

from __future__ import annotations

import re
from typing import Any

from gatewise.providers.base import JSON
from gatewise.providers.mistral.checks import MAX_INT, bad

_IMAGE_DETAILS = frozenset({"low", "auto", "high"})
_DOCUMENT_URL_PREFIXES = ("http://", "https://", "data:")
# Mistral's FileChunk takes a UUID (its own file ids), plain or dashed.
_UUID = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def _string(part: JSON, key: str, path: str) -> str:
    value = part.get(key)
    if not isinstance(value, str):
        raise bad(f"{path}.{key}", "must be a string")
    return value


def _optional(part: JSON, key: str, kind: type, path: str, out: JSON, out_key: str) -> None:
    """Copy ``part[key]`` to ``out[out_key]`` when set; a value of another type is refused."""
    value = part.get(key)
    if value is None:
        return
    if not isinstance(value, kind):
        raise bad(f"{path}.{key}", f"must be {'true or false' if kind is bool else 'a string'}")
    out[out_key] = value


def _image(part: JSON, path: str) -> JSON:
    image = part.get("image_url")
    if isinstance(image, str):
        return {"type": "image_url", "image_url": {"url": image}}
    if not isinstance(image, dict):
        raise bad(f"{path}.image_url", "must be a URL or {'url': ...}")
    out: JSON = {"url": _string(image, "url", f"{path}.image_url")}
    detail = image.get("detail")
    if isinstance(detail, str):
        if detail in _IMAGE_DETAILS:  # others ("original") have no Mistral meaning
            out["detail"] = detail
    elif detail is not None:
        raise bad(f"{path}.image_url.detail", "must be 'low', 'auto' or 'high'")
    return {"type": "image_url", "image_url": out}


def _file_id(value: Any, path: str) -> JSON:
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise bad(path, f"must be a Mistral file id (a UUID), got {value!r}")
    return {"type": "file", "file_id": value}


def _file(part: JSON, path: str) -> JSON:
    """OpenAI's ``{"type": "file", "file": {...}}`` -> a document URL or a Mistral file id."""
    file = part.get("file")
    if file is None and "file_id" in part:  # already Mistral's FileChunk
        return _file_id(part["file_id"], f"{path}.file_id")
    if not isinstance(file, dict):
        raise bad(f"{path}.file", "must be an object with `file_data` or `file_id`")
    data = file.get("file_data")
    if isinstance(data, str) and data:
        # OpenAI takes a data URI; a bare base64 string is taken to be a PDF, the only
        # document type both APIs document.
        url = data if data.startswith(_DOCUMENT_URL_PREFIXES) \
            else f"data:application/pdf;base64,{data}"
        out: JSON = {"type": "document_url", "document_url": url}
        _optional(file, "filename", str, f"{path}.file", out, "document_name")
        return out
    if data not in (None, ""):
        raise bad(f"{path}.file.file_data", "must be a data URI or URL")
    if file.get("file_id") is not None:
        return _file_id(file["file_id"], f"{path}.file.file_id")
    raise bad(f"{path}.file", "needs `file_data` (a data URI or URL) or `file_id`")


def _document(part: JSON, path: str) -> JSON:
    out: JSON = {"type": "document_url",
                 "document_url": _string(part, "document_url", path)}
    _optional(part, "document_name", str, path, out, "document_name")
    return out


def _audio(part: JSON, path: str) -> JSON:
    audio = part.get("input_audio")
    if isinstance(audio, dict):
        return {"type": "input_audio",
                "input_audio": _string(audio, "data", f"{path}.input_audio")}
    if not isinstance(audio, str):
        raise bad(f"{path}.input_audio", "must be {'data': <base64>, 'format': ...}")
    return {"type": "input_audio", "input_audio": audio}


def _thinking(part: JSON, path: str) -> JSON:
    """A Mistral thinking chunk sent back as the caller got it."""
    inner = part.get("thinking")
    if isinstance(inner, str):
        inner = [{"type": "text", "text": inner}]
    elif not isinstance(inner, list):
        raise bad(f"{path}.thinking", "must be a list of text parts")
    texts: list[JSON] = []
    for j, item in enumerate(inner):
        if not isinstance(item, dict):
            raise bad(f"{path}.thinking[{j}]", "must be an object")
        if item.get("type", "text") == "text":  # references are Mistral's to make
            texts.append({"type": "text",
                          "text": _string(item, "text", f"{path}.thinking[{j}]")})
    out: JSON = {"type": "thinking", "thinking": texts}
    _optional(part, "signature", str, path, out, "signature")
    _optional(part, "closed", bool, path, out, "closed")
    return out


def _reference(part: JSON, path: str) -> JSON:
    ids = part.get("reference_ids")
    if not isinstance(ids, list):
        raise bad(f"{path}.reference_ids", "must be a list of ids")
    for j, ref in enumerate(ids):
        if not (isinstance(ref, str) or (isinstance(ref, int) and not isinstance(ref, bool)
                                         and -MAX_INT - 1 <= ref <= MAX_INT)):
            raise bad(f"{path}.reference_ids[{j}]", "must be a string or a 64-bit integer")
    return {"type": "reference", "reference_ids": ids}


_CONVERTERS = {
    "image_url": _image,
    "file": _file,
    "document_url": _document,
    "input_audio": _audio,
    "thinking": _thinking,
    "reference": _reference,
}


def translate_parts(parts: list[Any], where: str) -> list[JSON]:
    """A user/assistant/tool content list -> Mistral content chunks.

    ``where`` is the message's path (``messages[2]``); errors name the part inside it.
    """
    out: list[JSON] = []
    for i, part in enumerate(parts):
        if isinstance(part, str):  # some clients mix bare strings into the list
            out.append({"type": "text", "text": part})
            continue
        if not isinstance(part, dict):
            raise bad(f"{where}.content[{i}]", "a content part must be an object")
        kind = part.get("type")
        # An assistant's refusal is what it said.  (A tuple: `kind` may be unhashable.)
        if kind in ("text", "refusal"):
            text = part.get(kind)
            if not isinstance(text, str):
                raise bad(f"{where}.content[{i}].{kind}", "must be a string")
            out.append({"type": "text", "text": text})
        else:
            convert = _CONVERTERS.get(kind) if isinstance(kind, str) else None
            if convert is None:
                raise bad(f"{where}.content[{i}].type",
                          f"content part type {kind!r} is not supported by Mistral")
            out.append(convert(part, f"{where}.content[{i}]"))
    return out


def translate_system_parts(parts: list[Any], where: str) -> list[JSON]:
    """System content lists: Mistral takes text chunks only (thinking chunks aside)."""
    out: list[JSON] = []
    for i, part in enumerate(parts):
        if isinstance(part, str):
            out.append({"type": "text", "text": part})
        elif isinstance(part, dict) and part.get("type") == "text":
            out.append({"type": "text", "text": _string(part, "text", f"{where}.content[{i}]")})
        else:
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            raise bad(f"{where}.content[{i}]",
                      f"a system message takes text parts only, got {kind!r}")
    return out


def has_text(content: Any) -> bool:
    """Whether a translated content value says anything at all."""
    if isinstance(content, str):
        return bool(content)
    if isinstance(content, list):
        return any(chunk.get("type") != "text" or chunk.get("text") for chunk in content)
    return False
