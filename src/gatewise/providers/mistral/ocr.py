"""OCR: ``POST /v1/ocr`` (reference §11), in Mistral's own shape both ways.

OpenAI has no OCR endpoint, so there is nothing to translate: the request is Mistral's
``OCRRequest`` (the document and the options it knows), the answer Mistral's
``OCRResponse`` (``pages[].markdown``, ``usage_info.pages_processed``...).  What is done
here is checking the document before the network, and refusing options Mistral does not
know (it answers them 422 anyway, less clearly).
"""

from __future__ import annotations

from typing import Any

from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.base import JSON
from gatewise.providers.mistral.checks import bad
from gatewise.providers.mistral.media_params import extra_body, split_params

OCR_PATH = "/ocr"

OCR_FIELDS = frozenset({
    "pages", "include_image_base64", "image_limit", "image_min_size",
    "bbox_annotation_format", "document_annotation_format", "document_annotation_prompt",
    "table_format", "extract_header", "extract_footer", "include_blocks",
    "confidence_scores_granularity",
})
"""``OCRRequest``'s fields besides ``model`` and ``document`` (spec 2026-08)."""

# A document's type -> the field holding where it is.
_DOCUMENT_FIELDS = {"document_url": "document_url", "image_url": "image_url", "file": "file_id"}
_EXAMPLE = '{"type": "document_url", "document_url": "https://..."}'


def build_ocr_body(model: str, document: Any, params: JSON, *, drop_params: bool = False,
                   model_info: ModelInfo | None = None) -> JSON:
    """The JSON body for ``POST /v1/ocr``.

    ``document`` is one of Mistral's three: ``{"type": "document_url", "document_url":
    URL}`` (a PDF, also a ``data:application/pdf;base64,...`` URL), ``{"type":
    "image_url", "image_url": URL}``, ``{"type": "file", "file_id": ID}`` (uploaded to
    ``/v1/files``); a plain URL string stands for the first (the second for a
    ``data:image/...`` URL).  Options outside ``OCRRequest`` raise
    ``UnsupportedParamsError`` unless ``drop_params``; ``extra_body`` is merged verbatim.
    """
    body: JSON = {"model": model, "document": ocr_document(document)}
    body.update(split_params(params, OCR_FIELDS, endpoint="/v1/ocr", drop_params=drop_params))
    body.update(extra_body(params))
    return body


def ocr_document(document: Any) -> JSON:
    """``document`` checked (and a URL string turned into its object); never mutated."""
    if isinstance(document, str):
        if not document:
            raise bad("document", f"must be a URL or an object such as {_EXAMPLE}")
        url_kind = "image_url" if document.startswith("data:image/") else "document_url"
        return {"type": url_kind, url_kind: document}
    if not isinstance(document, dict):
        raise bad("document", f"must be an object such as {_EXAMPLE}")
    kind: Any = document.get("type")
    if kind is None:  # Mistral's chunks default their type: the field present says it
        present = [k for k, field in _DOCUMENT_FIELDS.items() if field in document]
        if len(present) != 1:
            raise bad("document.type", "is required: 'document_url', 'image_url' or 'file'")
        kind = present[0]
    if kind not in _DOCUMENT_FIELDS:
        raise bad("document.type", f"must be 'document_url', 'image_url' or 'file' "
                                   f"(got {kind!r})")
    field = _DOCUMENT_FIELDS[kind]
    value: Any = document.get(field)
    if kind == "image_url" and isinstance(value, dict):
        value, field = value.get("url"), "image_url.url"
    if not isinstance(value, str) or not value:
        raise bad(f"document.{field}", f"is required for a document of type {kind!r}: a "
                                       "non-empty string")
    return document


def parse_ocr_response(body: JSON, *, model: str) -> JSON:
    """Mistral's ``OCRResponse``, kept as it is (the model named when it is not)."""
    if body.get("model"):
        return body
    return {**body, "model": model}
