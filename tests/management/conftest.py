"""Fixtures of the management API tests: each runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gatewise.db.database import Database
from gatewise.db.url import parse_database_url
from gatewise.proxy.app import ProxyApp
from tests.management._client import MASTER_KEY, Admin, Hook
from tests.proxy.conftest import make_app

CONFIG: dict[str, Any] = {
    "model_list": [
        {"model_name": "demo", "params": {"model": "mistral/mistral-small-latest",
                                          "mock_response": "hi there"}},
        {"model_name": "embed", "params": {"model": "mistral/mistral-embed",
                                           "mock_response": [0.5, 0.5]},
         "model_info": {"mode": "embedding"}},
    ],
    "router_settings": {"model_group_alias": {"small": "demo"}},
}


async def open_app(database_url: str, master_key: str | None = MASTER_KEY) -> ProxyApp:
    config = dict(CONFIG)
    if master_key is not None:
        config["general_settings"] = {"master_key": master_key}
    app = make_app(config)
    # Until the app opens its database in its lifespan: as it will.
    app.state.db = await Database.open(parse_database_url(database_url))  # type: ignore[attr-defined]
    return app


async def close_app(app: ProxyApp) -> None:
    await app.state.db.close()  # type: ignore[attr-defined]
    await app.state.aclose()


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[Admin]:
    """The app on a fresh database, driven with the master key; the access hook's calls
    are collected in ``admin.changed``."""
    app = await open_app(database_url)
    admin = Admin(app)
    app.state.access = Hook(admin.changed)  # type: ignore[attr-defined]
    yield admin
    await close_app(app)
