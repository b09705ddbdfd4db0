"""The access layer's request-path suite once more, with the proxy's live state in Redis
(one suite, both stores): every test of ``test_request_path.py`` runs here against the
``app`` below, which differs from that module's only by ``router_settings.redis_url``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gatewise.proxy.app import ProxyApp
from tests._services import Redis
from tests.access.test_request_path import *  # noqa: F403  (the suite; `app` replaced below)
from tests.access.test_request_path import MASTER, Recorder
from tests.fake_mistral import FakeMistral
from tests.proxy.conftest import make_app


@pytest.fixture
async def app(database_url: str, fake_mistral: FakeMistral, redis: Redis
              ) -> AsyncIterator[ProxyApp]:
    from redis import Redis as Client

    with Client(port=redis.port) as client:  # each test from a clean slate
        client.flushall()
    proxy = make_app({
        "model_list": [
            {"model_name": "small", "params": {"model": "mistral/mistral-small-latest",
                                               "api_key": "test-key",
                                               "api_base": fake_mistral.base_url}},
            {"model_name": "large", "params": {"model": "mistral/mistral-large-latest",
                                               "api_key": "test-key",
                                               "api_base": fake_mistral.base_url}},
            {"model_name": "embed", "params": {"model": "mistral/mistral-embed",
                                               "api_key": "test-key",
                                               "api_base": fake_mistral.base_url}},
        ],
        "router_settings": {"retry_backoff": 0.01, "redis_url": redis.url,
                            "redis_timeout": 1.0},
        "general_settings": {"master_key": MASTER, "database_url": database_url}})
    await proxy.state.start()
    assert proxy.state.db is not None and proxy.state.shared is not None
    assert not proxy.state.shared.store.fallback_active
    proxy.state.sinks.add(Recorder())
    yield proxy
    await proxy.state.aclose()
