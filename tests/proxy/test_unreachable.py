"""A deployment whose connection cannot even be opened sent nothing upstream, so the router
always moves on to another deployment of its group, whatever ``num_retries`` says.

The real CLI in a subprocess; the dead deployments point at a refused port, the live one at
the fake Mistral server; driven by the ``openai`` package.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests._net import refused_port
from tests.fake_mistral import FakeMistral
from tests.proxy._server import Proxy, client, run_proxy_with
from tests.proxy.conftest import HELLO


def config(fake: FakeMistral) -> dict[str, Any]:
    def entry(name: str, id: str, base: str) -> dict[str, Any]:
        return {"model_name": name, "model_info": {"id": id},
                "litellm_params": {"model": "mistral/mistral-small-latest",
                                   "api_key": "test-key", "api_base": base}}

    dead = f"http://127.0.0.1:{refused_port()}/v1"
    return {
        "model_list": [entry("primary", "primary-dead", dead), entry("backup", "dead", dead),
                       entry("backup", "live", fake.base_url)],
        # allowed_fails keeps the dead one in rotation: every request may pick it.
        "router_settings": {"num_retries": 0, "allowed_fails": 1000, "seed": 3,
                            "fallbacks": [{"primary": ["backup"]}]},
    }


@pytest.fixture(scope="module")
def proxy(_fake_server: FakeMistral, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Proxy]:
    with run_proxy_with(config(_fake_server), tmp_path_factory.mktemp("dead")) as server:
        yield server


def test_a_fallback_into_a_group_with_a_dead_deployment_always_succeeds(
        proxy: Proxy, fake_mistral: FakeMistral) -> None:
    api = client(proxy)
    headers = [api.chat.completions.with_raw_response.create(model="primary",
                                                             messages=HELLO).headers
               for _ in range(20)]
    assert len(fake_mistral.requests) == 20
    assert {h["x-gatewise-model-id"] for h in headers} == {"live"}
    assert {h["x-gatewise-attempted-fallbacks"] for h in headers} == {"1"}
    retries = Counter(h["x-gatewise-attempted-retries"] for h in headers)
    assert set(retries) <= {"0", "1"} and retries["1"] >= 1  # the dead one was tried, then
    # the live one: a move within the group, counted as a retry
