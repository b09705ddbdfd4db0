"""One harness for the OCR and transcription tests: each call runs through a fresh
``Client`` or ``AsyncClient`` (the test's ``mode``), streams read to the end."""

from __future__ import annotations

import asyncio
from typing import Any

import gatewise
from tests.fake_mistral import FakeMistral

OCR_MODEL = "mistral/mistral-ocr-latest"
AUDIO_MODEL = "mistral/voxtral-mini-latest"
PDF = {"type": "document_url", "document_url": "https://example.com/paper.pdf"}


class Media:
    def __init__(self, mode: str, fake: FakeMistral) -> None:
        self.mode = mode
        self.fake = fake
        self.defaults: dict[str, Any] = {"api_key": "test-key", "api_base": fake.base_url}

    def call(self, method: str, *args: Any, **kw: Any) -> Any:
        """``method`` of a client, its stream (if any) read whole into a list."""
        if self.mode == "sync":
            with gatewise.Client(**self.defaults) as client:
                answer = getattr(client, method)(*args, **kw)
                return list(answer) if kw.get("stream") else answer

        async def run() -> Any:
            async with gatewise.AsyncClient(**self.defaults) as client:
                answer = await getattr(client, method)(*args, **kw)
                return [item async for item in answer] if kw.get("stream") else answer
        return asyncio.run(run())

    def ocr(self, document: Any = None, **kw: Any) -> Any:
        return self.call("ocr", kw.pop("model", OCR_MODEL), PDF if document is None else document,
                         **kw)

    def transcription(self, file: Any = b"RIFF fake audio" * 100, **kw: Any) -> Any:
        return self.call("transcription", kw.pop("model", AUDIO_MODEL), file, **kw)

