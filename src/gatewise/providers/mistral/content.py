"""Message content parts: OpenAI's part shapes -> Mistral's content chunks (reference §2.2).

Every chunk is rebuilt from the keys Mistral's schema has, so anything else a client puts
in a part (``cache_control``, ``annotations``, ...) is left behind.  Big strings (data URIs,
base64 audio) are reused, never copied.
"""

from __future__ import annotations

from typing import Any

from gatewise._exceptions import BadRequestError
from gatewise.providers.base import JSON

_IMAGE_DETAILS = frozenset({"low", "auto", "high"})
_DOCUMENT_URL_PREFIXES = ("http://", "https://", "data:")


def _bad_part(where: str, why: str) -> BadRequestError:
    return BadRequestError(f"{where}: {why}", provider="mistral", param="messages")


def _text_of(part: JSON, key: str) -> str:
    value = part.get(key)
    return value if isinstance(value, str) else ""


def _image(part: JSON, where: str) -> JSON:
    image = part.get("image_url")
    if isinstance(image, str):
        return {"type": "image_url", "image_url": {"url": image}}
    if isinstance(image, dict) and isinstance(image.get("url"), str):
        out: JSON = {"url": image["url"]}
        if image.get("detail") in _IMAGE_DETAILS:
            out["detail"] = image["detail"]
        return {"type": "image_url", "image_url": out}
    raise _bad_part(where, "an image_url part needs `image_url` as a URL or {'url': ...}")


def _file(part: JSON, where: str) -> JSON:
    """OpenAI's ``{"type": "file", "file": {...}}`` -> a document URL or a Mistral file id."""
    file = part.get("file")
    if not isinstance(file, dict):
        if isinstance(part.get("file_id"), str):  # already Mistral's FileChunk
            return {"type": "file", "file_id": part["file_id"]}
        raise _bad_part(where, "a file part needs `file` with `file_data` or `file_id`")
    data = file.get("file_data")
    if isinstance(data, str) and data:
        # OpenAI takes a data URI; a bare base64 string is taken to be a PDF, the only
        # document type both APIs document.
        url = data if data.startswith(_DOCUMENT_URL_PREFIXES) \
            else f"data:application/pdf;base64,{data}"
        out: JSON = {"type": "document_url", "document_url": url}
        if isinstance(file.get("filename"), str):
            out["document_name"] = file["filename"]
        return out
    if isinstance(file.get("file_id"), str):
        return {"type": "file", "file_id": file["file_id"]}
    raise _bad_part(where, "a file part needs `file.file_data` (a data URI or URL) "
                           "or `file.file_id`")


def _document(part: JSON, where: str) -> JSON:
    url = part.get("document_url")
    if not isinstance(url, str):
        raise _bad_part(where, "a document_url part needs `document_url` as a string")
    out: JSON = {"type": "document_url", "document_url": url}
    if isinstance(part.get("document_name"), str):
        out["document_name"] = part["document_name"]
    return out


def _audio(part: JSON, where: str) -> JSON:
    audio = part.get("input_audio")
    if isinstance(audio, dict):
        audio = audio.get("data")
    if not isinstance(audio, str):
        raise _bad_part(where, "an input_audio part needs base64 `input_audio.data`")
    return {"type": "input_audio", "input_audio": audio}


def _thinking(part: JSON, where: str) -> JSON:
    """A Mistral thinking chunk sent back as the caller got it."""
    inner = part.get("thinking")
    if isinstance(inner, str):
        inner = [{"type": "text", "text": inner}]
    if not isinstance(inner, list):
        raise _bad_part(where, "a thinking part needs `thinking` as a list of text parts")
    out: JSON = {"type": "thinking", "thinking": [
        {"type": "text", "text": _text_of(p, "text")} for p in inner
        if isinstance(p, dict) and p.get("type", "text") == "text"]}
    if isinstance(part.get("signature"), str):
        out["signature"] = part["signature"]
    if isinstance(part.get("closed"), bool):
        out["closed"] = part["closed"]
    return out


def _reference(part: JSON, where: str) -> JSON:
    ids = part.get("reference_ids")
    if not isinstance(ids, list):
        raise _bad_part(where, "a reference part needs `reference_ids`")
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
    """A user/assistant/tool content list -> Mistral content chunks."""
    out: list[JSON] = []
    for i, part in enumerate(parts):
        if isinstance(part, str):  # some clients mix bare strings into the list
            out.append({"type": "text", "text": part})
            continue
        if not isinstance(part, dict):
            raise _bad_part(f"{where}.content[{i}]", "a content part must be an object")
        kind = part.get("type")
        if kind == "text":
            out.append({"type": "text", "text": _text_of(part, "text")})
        elif kind == "refusal":  # an assistant's refusal is what it said
            out.append({"type": "text", "text": _text_of(part, "refusal")})
        elif kind in _CONVERTERS:
            out.append(_CONVERTERS[kind](part, f"{where}.content[{i}]"))
        else:
            raise _bad_part(f"{where}.content[{i}]",
                            f"content part type {kind!r} is not supported by Mistral")
    return out


def translate_system_parts(parts: list[Any], where: str) -> list[JSON]:
    """System content lists: Mistral takes text chunks only (thinking chunks aside)."""
    out: list[JSON] = []
    for i, part in enumerate(parts):
        if isinstance(part, str):
            out.append({"type": "text", "text": part})
        elif isinstance(part, dict) and part.get("type") == "text":
            out.append({"type": "text", "text": _text_of(part, "text")})
        else:
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            raise _bad_part(f"{where}.content[{i}]",
                            f"a system message takes text parts only, got {kind!r}")
    return out


def has_text(content: Any) -> bool:
    """Whether a translated content value says anything at all."""
    if isinstance(content, str):
        return bool(content)
    if isinstance(content, list):
        return any(chunk.get("type") != "text" or chunk.get("text") for chunk in content)
    return False
