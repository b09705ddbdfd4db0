"""The store implementations the admission suite runs against: one suite, every store."""

from __future__ import annotations

import pytest

from gatewise.router.store import MemoryStore, StateStore


@pytest.fixture(params=["memory"])
def store(request: pytest.FixtureRequest) -> StateStore:
    """Another engineer adds ``"redis"`` here: the same suite against a real Redis."""
    return MemoryStore()
