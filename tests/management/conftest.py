"""Fixtures of the management API tests: each runs on SQLite and on PostgreSQL, through
the app as it serves (the database opened at startup, the caller resolved by the access
layer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gatewise.proxy.app import ProxyApp
from tests.management._client import MASTER_KEY, Admin
from tests.proxy.conftest import make_app

MODEL_LIST: list[dict[str, Any]] = [
    {"model_name": "demo", "params": {"model": "mistral/mistral-small-latest",
                                      "mock_response": "hi there"}},
    {"model_name": "embed", "params": {"model": "mistral/mistral-embed",
                                       "mock_response": [0.5, 0.5]},
     "model_info": {"mode": "embedding"}},
]


def config(database_url: str | None, master_key: str | None = MASTER_KEY) -> dict[str, Any]:
    general: dict[str, Any] = {}
    if master_key is not None:
        general["master_key"] = master_key
    if database_url is not None:
        general["database_url"] = database_url
    return {"model_list": MODEL_LIST, "general_settings": general,
            "router_settings": {"model_group_alias": {"small": "demo"}}}


async def open_app(database_url: str | None, master_key: str | None = MASTER_KEY
                   ) -> ProxyApp:
    """The app, started as the server's lifespan starts it (the database opened)."""
    app = make_app(config(database_url, master_key))
    await app.state.start()
    return app


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[Admin]:
    """The app on a fresh database, driven with the master key; what the access layer is
    told changed is collected in ``admin.changed``."""
    app = await open_app(database_url)
    admin = Admin(app)

    async def listen(kind: str, ref: str) -> None:
        admin.changed.append((kind, ref))

    app.state.access.listeners.append(listen)
    yield admin
    await app.state.aclose()
