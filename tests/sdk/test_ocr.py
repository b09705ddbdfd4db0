"""OCR through the public API (sync and async): Mistral's shape both ways, options, cost,
errors -- against the strict fake, which validates every request against ``OCRRequest``."""

from __future__ import annotations

import asyncio

import pytest

import gatewise
from gatewise import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    OCRResponse,
    RateLimitError,
    UnprocessableEntityError,
    UnsupportedParamsError,
)
from tests.fake_mistral import CutStream, FakeMistral, Status, validate_body
from tests.fake_mistral.media import DOCUMENT_PAGES
from tests.sdk._media import OCR_MODEL, PDF, Media

PRICE = 0.004  # mistral-ocr-latest, per page (the catalogue's)


def test_document_url_gives_pages_usage_and_cost(media: Media) -> None:
    response = media.ocr()
    assert isinstance(response, OCRResponse)
    assert [p.index for p in response.pages] == list(range(DOCUMENT_PAGES))
    assert response.pages[0].markdown.startswith("# Page 1")
    assert response.model == "mistral-ocr-latest"
    assert response.usage_info is not None
    assert response.usage_info.pages_processed == DOCUMENT_PAGES
    assert response.cost == pytest.approx(DOCUMENT_PAGES * PRICE)
    body = media.fake.requests[-1].json
    assert body == {"model": "mistral-ocr-latest", "document": PDF}
    assert validate_body("OCRResponse", response.model_dump(exclude_none=True)) == []


def test_options_pass_as_they_are(media: Media) -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "doc", "schema": {
        "type": "object", "properties": {"title": {"type": "string"}}}}}
    response = media.ocr(pages=[0, 2], include_image_base64=True, image_limit=4,
                         document_annotation_format=schema, bbox_annotation_format=schema,
                         table_format="html", extract_header=True)
    body = media.fake.requests[-1].json
    assert body["pages"] == [0, 2] and body["include_image_base64"] is True
    assert body["document_annotation_format"] == schema and body["table_format"] == "html"
    assert [p.index for p in response.pages] == [0, 2]
    assert response.usage_info.pages_processed == 2
    assert response.cost == pytest.approx(2 * PRICE)
    assert response.document_annotation == '{"title": "A fake document"}'
    assert response.pages[0].images[0].image_base64 is not None


@pytest.mark.parametrize(("document", "sent"), [
    ("https://example.com/a.pdf",
     {"type": "document_url", "document_url": "https://example.com/a.pdf"}),
    ("data:image/png;base64,iVBORw0",
     {"type": "image_url", "image_url": "data:image/png;base64,iVBORw0"}),
    ({"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
     {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}),
    ({"type": "file", "file_id": "497f6eca-6276-4993-bfeb-53cbbbba6f09"},
     {"type": "file", "file_id": "497f6eca-6276-4993-bfeb-53cbbbba6f09"}),
    ({"document_url": "https://example.com/b.pdf", "document_name": "b.pdf"},
     {"document_url": "https://example.com/b.pdf", "document_name": "b.pdf"}),
])
def test_each_kind_of_document(media: Media, document: object, sent: object) -> None:
    response = media.ocr(document)
    assert media.fake.requests[-1].json["document"] == sent
    assert response.pages


@pytest.mark.parametrize(("document", "param"), [
    (None, "document"), (42, "document"), ("", "document"),
    ({"type": "video_url", "video_url": "x"}, "document.type"),
    ({"type": "document_url"}, "document.document_url"),
    ({"type": "image_url", "image_url": {"detail": "high"}}, "document.image_url.url"),
    ({"name": "x"}, "document.type"),
])
def test_bad_documents_fail_before_the_network(media: Media, document: object,
                                                param: str) -> None:
    with pytest.raises(BadRequestError) as info:
        media.call("ocr", OCR_MODEL, document)
    assert info.value.param == param
    assert media.fake.requests == []


def test_unknown_options_are_refused_or_dropped(media: Media) -> None:
    with pytest.raises(UnsupportedParamsError, match="include_images") as info:
        media.ocr(include_images=True)
    assert "include_image_base64" in str(info.value)  # the suggestion
    assert media.fake.requests == []
    media.ocr(include_images=True, drop_params=True)
    assert "include_images" not in media.fake.requests[-1].json


def test_extra_body_reaches_the_strict_fake(media: Media) -> None:
    with pytest.raises(UnprocessableEntityError, match="bogus"):
        media.ocr(extra_body={"bogus": 1})


def test_a_chat_model_is_refused_by_mistral(media: Media) -> None:
    with pytest.raises(BadRequestError, match="Invalid model"):
        media.ocr(model="mistral/mistral-small-latest")


@pytest.mark.parametrize(("status", "error"), [
    (429, RateLimitError), (500, InternalServerError), (401, AuthenticationError)])
def test_upstream_errors_are_typed(media: Media, status: int,
                                   error: type[Exception]) -> None:
    media.fake.script(*[Status(status)] * 3)
    with pytest.raises(error):
        media.ocr(num_retries=0)


def test_retries_then_succeeds(media: Media) -> None:
    media.fake.script(Status(503), Status(429, headers={"Retry-After": "0"}))
    response = media.ocr(num_retries=2)
    assert response.pages and len(media.fake.requests) == 3


def test_a_cut_connection_is_a_connection_error(media: Media) -> None:
    media.fake.script(CutStream(0))
    with pytest.raises(APIConnectionError):
        media.ocr(num_retries=0)


def test_timeout(media: Media, fake_mistral: FakeMistral) -> None:
    from tests.fake_mistral import Delay

    fake_mistral.script(Delay(2))
    with pytest.raises(gatewise.APITimeoutError):
        media.ocr(timeout=0.3, num_retries=0)


def test_mock_response_sends_nothing(media: Media) -> None:
    response = media.ocr(mock_response="# canned")
    assert response.pages[0].markdown == "# canned"
    assert response.usage_info.pages_processed == 1
    assert media.fake.requests == []


def test_dict_twin_and_module_functions(mistral_env: FakeMistral) -> None:
    with gatewise.Client() as client:
        data = client.ocr_dict(OCR_MODEL, PDF)
    assert data["usage_info"]["pages_processed"] == DOCUMENT_PAGES
    assert gatewise.ocr(OCR_MODEL, PDF).cost == pytest.approx(DOCUMENT_PAGES * PRICE)

    async def module_function() -> OCRResponse:
        try:
            return await gatewise.aocr(OCR_MODEL, PDF, pages="1-2")
        finally:
            await gatewise._api.default_async_client().aclose()
    response = asyncio.run(module_function())
    assert [p.index for p in response.pages] == [1, 2]
    assert gatewise.completion_cost(data, model=OCR_MODEL) == pytest.approx(
        DOCUMENT_PAGES * PRICE)
