"""The store implementations the admission suite runs against: one suite, every store."""

from __future__ import annotations

from tests._stores import store

__all__ = ["store"]
