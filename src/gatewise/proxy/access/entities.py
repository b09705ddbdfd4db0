"""Keys, teams, users and end users as the access layer sees them: plain frozen values.

The database layer reads rows into these (``gatewise.db``); the access layer caches them
and turns them into the scopes a request is admitted against.  Nothing here imports a
database library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["ADMIN_ROLES", "USER_ROLES", "Budget", "Customer", "Key", "Team", "User"]

USER_ROLES = ("proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer")
"""LiteLLM's user roles; ``proxy_admin`` may use the management API as the master key can."""
ADMIN_ROLES = frozenset({"proxy_admin"})


@dataclass(frozen=True, slots=True)
class Budget:
    """The limits and budget an identity carries (None: no limit)."""

    max_budget: float | None = None
    budget_duration: str | None = None
    budget_reset_at: datetime | None = None
    spend: float = 0.0
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None

    @property
    def limited(self) -> bool:
        return (self.max_budget is not None or self.rpm_limit is not None
                or self.tpm_limit is not None or self.max_parallel_requests is not None)


@dataclass(frozen=True, slots=True)
class Key:
    token: str  # SHA-256 hex of the key: its id
    key_name: str
    key_alias: str | None = None
    models: tuple[str, ...] = ()  # empty: every model
    budget: Budget = field(default_factory=Budget)
    expires: datetime | None = None
    blocked: bool = False
    team_id: str | None = None
    user_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None  # the user id of the admin who made it (None: master key)


@dataclass(frozen=True, slots=True)
class Team:
    team_id: str
    team_alias: str | None = None
    models: tuple[str, ...] = ()
    budget: Budget = field(default_factory=Budget)
    blocked: bool = False
    members: tuple[dict[str, Any], ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    user_email: str | None = None
    user_role: str = "internal_user"
    models: tuple[str, ...] = ()
    budget: Budget = field(default_factory=Budget)
    blocked: bool = False
    teams: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Customer:
    """An end user: the ``user`` field of a request."""

    user_id: str
    alias: str | None = None
    budget: Budget = field(default_factory=Budget)
    blocked: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
