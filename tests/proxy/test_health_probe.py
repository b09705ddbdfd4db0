"""``/health?probe=true`` makes one tiny real call of the kind each deployment serves: an
OCR model reads a pixel, a voice model transcribes a tenth of a second of silence, a code
model completes one token, a wildcard entry calls one of the models it serves."""

from __future__ import annotations

from typing import Any

from tests.fake_mistral import FakeMistral
from tests.proxy.conftest import call, make_app


async def test_every_kind_of_deployment_is_probed_with_its_own_call(
        fake_mistral: FakeMistral) -> None:
    def entry(name: str, model: str) -> dict[str, Any]:
        return {"model_name": name, "params": {"model": model, "api_key": "test-key",
                                               "api_base": fake_mistral.base_url}}

    app = make_app({"model_list": [
        entry("ocr", "mistral/mistral-ocr-latest"), entry("voice", "mistral/voxtral-mini-latest"),
        entry("code", "mistral/codestral-latest"), entry("*", "mistral/*")]})
    try:
        report = (await call(app, "GET", "/health", query=b"probe=true")).json()
    finally:
        await app.state.aclose()
    assert report["unhealthy_count"] == 0, report["unhealthy_endpoints"]
    assert report["healthy_count"] == 4
    paths = {r.path for r in fake_mistral.requests}
    assert {"/v1/ocr", "/v1/audio/transcriptions", "/v1/chat/completions"} <= paths
    assert all("*" not in str(r.json) for r in fake_mistral.requests if r.json)
