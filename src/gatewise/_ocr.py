"""OCR calls: the request (as ``_prepare`` builds chat's), the canned answer of
``mock_response``, and the typed answer with its cost (pages processed x price per page).
Shared by ``Client`` and ``AsyncClient``."""

from __future__ import annotations

from typing import Any

from gatewise._exceptions import BadRequestError
from gatewise._http import Request
from gatewise._mock import raise_if_exception
from gatewise._prepare import Call, _target, encode_body
from gatewise._target import Settings, Targets, split_options
from gatewise.catalogue import Catalogue, cost_for_usage
from gatewise.types import OCRResponse

JSON = dict[str, Any]


def prepare_ocr(settings: Settings, catalogue: Catalogue, model: str, document: Any,
                params: dict[str, Any], targets: Targets) -> Call:
    """Build the request for an OCR call (or note that it is mocked)."""
    options, params = split_options(dict(params))
    target = _target(settings, catalogue, model, options, targets)
    drop = bool(options.get("drop_params", settings.drop_params))
    adapter, info = target.adapter, target.info
    body = adapter.build_ocr_body(target.model_id, document, params, drop_params=drop,
                                  model_info=info)
    mock = options.get("mock_response")
    request = None
    if mock is None:
        request = Request("POST", target.api_base + adapter.OCR_PATH, target.headers,
                          encode_body(body))
    return Call(target.spec.name, target.model_id, adapter, info, params, False,
                target.timeout, target.policy, mock, request, target.secrets)


def mock_ocr_response(mock: Any, model: str) -> JSON:
    """A one-page answer whose markdown is ``mock`` (a dict: the whole answer, as given)."""
    raise_if_exception(mock)
    if isinstance(mock, dict):
        return mock
    if not isinstance(mock, str):
        raise BadRequestError("mock_response must be a string, an OCR answer (dict) or an "
                              "exception", param="mock_response")
    page = {"index": 0, "markdown": mock, "images": [],
            "dimensions": {"dpi": 200, "height": 2200, "width": 1700}}
    return {"pages": [page], "model": model, "document_annotation": None,
            "usage_info": {"pages_processed": 1, "doc_size_bytes": None}}


def ocr_answer(call: Call, body: JSON) -> JSON:
    return call.adapter.parse_ocr_response(body, model=call.model_id)


def typed_ocr(call: Call, data: JSON) -> OCRResponse:
    response = OCRResponse.model_validate(data)
    response._cost = cost_for_usage(call.info, data.get("usage_info") or {})
    return response
