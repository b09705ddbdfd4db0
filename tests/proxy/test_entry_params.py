"""An entry's own params are checked at startup by the adapter of the route it serves: an
OCR or voice entry's options are an OCR or transcription request's, not a chat's."""

from __future__ import annotations

from typing import Any

import pytest

from gatewise.proxy.config import ConfigError
from tests.proxy.conftest import make_app


def entry(model: str, **params: Any) -> dict[str, Any]:
    return {"model_name": "m", "params": {"model": model, "api_key": "k", **params}}


@pytest.mark.parametrize(("model", "params"), [
    ("mistral/mistral-ocr-latest", {"include_image_base64": True, "pages": [0]}),
    ("mistral/voxtral-mini-latest", {"language": "en", "temperature": 0.2}),
    ("mistral/mistral-moderation-latest", {}),
    ("mistral/codestral-latest", {"max_tokens": 64}),
])
async def test_options_of_other_routes_are_fine(model: str, params: dict[str, Any]) -> None:
    app = make_app({"model_list": [entry(model, **params)]})
    assert app.state.served == {"m"}
    await app.state.aclose()


@pytest.mark.parametrize(("model", "params", "named"), [
    ("mistral/mistral-ocr-latest", {"temperature": 0.2}, "temperature"),
    ("mistral/voxtral-mini-latest", {"tools": []}, "tools"),
    ("mistral/mistral-small-latest", {"pages": [0]}, "pages"),
])
def test_options_the_route_cannot_take_are_config_errors(model: str, params: dict[str, Any],
                                                         named: str) -> None:
    with pytest.raises(ConfigError, match=named) as refused:
        make_app({"model_list": [entry(model, **params)]})
    assert "model_list[0].params" in str(refused.value)
