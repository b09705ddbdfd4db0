from __future__ import annotations

import pytest

from gatewise.catalogue import Catalogue


@pytest.fixture
def catalogue() -> Catalogue:
    """A fresh catalogue on the packaged data (not the shared default)."""
    return Catalogue()
