"""OCR responses, in Mistral's shape (OpenAI has no OCR endpoint to mirror)."""

from __future__ import annotations

from typing import Any

from gatewise.types._base import Costed, OpenAIObject


class OCRImage(OpenAIObject):
    id: str
    top_left_x: int | None = None
    top_left_y: int | None = None
    bottom_right_x: int | None = None
    bottom_right_y: int | None = None
    image_base64: str | None = None
    image_annotation: str | None = None


class OCRPage(OpenAIObject):
    index: int
    markdown: str = ""
    images: list[OCRImage] = []
    dimensions: dict[str, Any] | None = None
    """``{"dpi", "height", "width"}`` of the page's image."""


class OCRUsageInfo(OpenAIObject):
    pages_processed: int = 0
    doc_size_bytes: int | None = None


class OCRResponse(Costed):
    """``response.pages[i].markdown``; ``response.cost`` is pages processed times the
    model's price per page."""

    pages: list[OCRPage]
    model: str
    document_annotation: str | None = None
    usage_info: OCRUsageInfo | None = None
