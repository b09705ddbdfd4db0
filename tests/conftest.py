"""Shared fixtures. Every test talks to the strict fake Mistral server, never the real API."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._services import Postgres, Redis, postgres_server, redis_server
from tests.fake_mistral import FakeMistral


@pytest.fixture(scope="session")
def _fake_server() -> Iterator[FakeMistral]:
    with FakeMistral() as fake:
        yield fake


@pytest.fixture
def fake_mistral(_fake_server: FakeMistral) -> FakeMistral:
    """The session's fake server, reset for this test."""
    _fake_server.reset()
    return _fake_server


@pytest.fixture
def mistral_env(monkeypatch: pytest.MonkeyPatch, fake_mistral: FakeMistral) -> FakeMistral:
    """Point ``MISTRAL_API_KEY``/``MISTRAL_API_BASE`` at the fake."""
    monkeypatch.setenv("MISTRAL_API_KEY", "test-key")
    monkeypatch.setenv("MISTRAL_API_BASE", fake_mistral.base_url)
    return fake_mistral


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One throwaway PostgreSQL cluster for the session (installed if missing, as root)."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis() -> Iterator[Redis]:
    """One redis-server for the session, persistence off (tests flush what they use)."""
    with redis_server() as server:
        yield server


_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend: the same test runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gatewise.db'}"
    server: Postgres = request.getfixturevalue("postgres")
    return server.create_database(f"t{os.getpid()}_{next(_databases)}")
