"""What the proxy's OCR, transcription and pass-through tests share: a config serving one
model of each mode from the fake, and multipart forms written by hand (so a test decides
the order of the parts, and how the body is cut)."""

from __future__ import annotations

from typing import Any

from tests.fake_mistral import FakeMistral

BOUNDARY = "test-boundary-1234"
FORM_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
AUDIO = bytes(range(256)) * 256  # 64 KiB


def media_config(fake: FakeMistral, **general: Any) -> dict[str, Any]:
    def entry(name: str, model: str) -> dict[str, Any]:
        return {"model_name": name, "params": {"model": model, "api_key": "test-key",
                                               "api_base": fake.base_url, "max_retries": 0}}
    return {"model_list": [entry("ocr", "mistral/mistral-ocr-latest"),
                           entry("voice", "mistral/voxtral-mini-latest"),
                           entry("chat", "mistral/mistral-small-latest")],
            "general_settings": general}


def form(*parts: tuple[str, str | tuple[str, bytes]]) -> bytes:
    """A multipart body: ``(name, text)`` fields and ``(name, (filename, data))`` files."""
    out = []
    for name, value in parts:
        if isinstance(value, tuple):
            filename, data = value
            out.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                       f'filename="{filename}"\r\nContent-Type: audio/mpeg\r\n\r\n'.encode()
                       + data + b"\r\n")
        else:
            out.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"'
                       f"\r\n\r\n{value}\r\n".encode())
    out.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(out)


def pieces(body: bytes, size: int = 5000) -> list[bytes]:
    """``body`` cut as a client's would arrive."""
    return [body[i:i + size] for i in range(0, len(body), size)]
