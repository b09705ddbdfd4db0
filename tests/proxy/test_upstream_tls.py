"""The proxy's upstream settings: ``general_settings.upstream_transport`` picks the transport
(lean by default), ``ssl_verify`` (per deployment, or for all in ``litellm_settings``)
reaches it, checked when the config is read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gatewise._http._aiohttp import AiohttpTransport
from gatewise._http._h1 import LeanTransport
from gatewise.proxy.config import ConfigError, parse_config
from tests.http._certs import Certificates, make_certificates
from tests.http._upstreams import Upstream, json_answer, upstream
from tests.http.test_tls import CHAT
from tests.proxy.conftest import HELLO, call, make_app

SMALL = "mistral/mistral-small-latest"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def tls_upstream(certificates: Certificates) -> AsyncIterator[Upstream]:
    async with upstream(json_answer(CHAT), tls=certificates.server) as up:
        yield up


def config(base: str, settings: dict[str, Any] | None = None, **params: Any
           ) -> dict[str, Any]:
    return {"model_list": [{"model_name": "small", "litellm_params": {
        "model": SMALL, "api_key": "k", "api_base": base, "max_retries": 0, **params}}],
        "litellm_settings": {"num_retries": 0, **(settings or {})}}


@pytest.mark.parametrize(("params", "settings", "status"), [
    ({}, {}, 502),  # the system's CA store does not know the test CA
    ({"ssl_verify": "CA"}, {}, 200),
    ({"ssl_verify": False}, {}, 200),
    ({}, {"ssl_verify": False}, 200),
    ({"ssl_verify": True}, {"ssl_verify": False}, 502),  # the deployment's own wins
])
async def test_ssl_verify_reaches_the_upstream_call(
        tls_upstream: Upstream, certificates: Certificates, params: dict[str, Any],
        settings: dict[str, Any], status: int) -> None:
    params = {k: str(certificates.ca) if v == "CA" else v for k, v in params.items()}
    base = tls_upstream.url.removesuffix("/chat/completions")
    app = make_app(config(base, settings, **params))
    try:
        answer = await call(app, "POST", "/v1/chat/completions",
                            {"model": "small", "messages": HELLO})
    finally:
        await app.state.aclose()
    assert answer.status == status
    if status == 502:
        assert "certificate" in answer.error()["message"]
    else:
        assert answer.json()["choices"][0]["message"]["content"] == "over TLS"


@pytest.mark.parametrize(("general", "kind"), [
    ({}, LeanTransport), ({"upstream_transport": "lean"}, LeanTransport),
    ({"upstream_transport": "aiohttp"}, AiohttpTransport)])
def test_the_upstream_transport_is_chosen_by_config(general: dict[str, Any],
                                                    kind: type) -> None:
    app = make_app({**config("http://127.0.0.1:1/v1"), "general_settings": general})
    assert type(app.state.client.transport) is kind


def test_bad_upstream_settings_name_their_path(tmp_path: Path) -> None:
    data = {**config("http://127.0.0.1:1/v1", {"ssl_verify": 3},
                     ssl_verify=str(tmp_path / "missing.pem")),
            "general_settings": {"upstream_transport": "httpx"}}
    with pytest.raises(ConfigError) as info:
        parse_config(data, "config.yaml", environ={})
    text = "\n".join(info.value.problems)
    assert ("config.yaml: general_settings.upstream_transport: must be one of lean, aiohttp, "
            "got 'httpx'") in text
    assert "litellm_settings.ssl_verify: must be true, false or the path of a CA bundle" in text
    assert "model_list[0].litellm_params.ssl_verify: no CA bundle at" in text


def test_ssl_verify_reads_like_litellm(certificates: Certificates) -> None:
    parsed = parse_config(config("https://x/v1", {"ssl_verify": "false"},
                                 ssl_verify=str(certificates.ca)), "c.yaml", environ={})
    assert parsed.ssl_verify is False
    assert parsed.deployments[0].ssl_verify == str(certificates.ca)
    assert "ssl_verify" not in parsed.deployments[0].params  # a call option, not a param
