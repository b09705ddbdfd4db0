"""Shared fixtures. Every test talks to the strict fake Mistral server, never the real API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
