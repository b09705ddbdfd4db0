"""Stored rows -> the access layer's values (``gatewise.proxy.access.entities``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gatewise.proxy.access.entities import Budget, Customer, Key, Team, User

__all__ = ["budget_of", "customer_of", "key_of", "team_of", "user_of"]


def utc(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were written as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def budget_of(row: Any) -> Budget:
    return Budget(max_budget=row.max_budget, budget_duration=row.budget_duration,
                  budget_reset_at=utc(row.budget_reset_at), spend=row.spend or 0.0,
                  rpm_limit=row.rpm_limit, tpm_limit=row.tpm_limit,
                  max_parallel_requests=row.max_parallel_requests)


def key_of(row: Any) -> Key:
    return Key(token=row.token, key_name=row.key_name, key_alias=row.key_alias,
               models=tuple(row.models or ()), budget=budget_of(row),
               expires=utc(row.expires), blocked=bool(row.blocked), team_id=row.team_id,
               user_id=row.user_id, metadata=dict(row.metadata or {}),
               created_at=utc(row.created_at), updated_at=utc(row.updated_at),
               created_by=row.created_by)


def team_of(row: Any) -> Team:
    return Team(team_id=row.team_id, team_alias=row.team_alias, models=tuple(row.models or ()),
                budget=budget_of(row), blocked=bool(row.blocked),
                members=tuple(row.members or ()), metadata=dict(row.metadata or {}),
                created_at=utc(row.created_at), updated_at=utc(row.updated_at))


def user_of(row: Any) -> User:
    return User(user_id=row.user_id, user_email=row.user_email, user_role=row.user_role,
                models=tuple(row.models or ()), budget=budget_of(row),
                blocked=bool(row.blocked), teams=tuple(row.teams or ()),
                metadata=dict(row.metadata or {}), created_at=utc(row.created_at),
                updated_at=utc(row.updated_at))


def customer_of(row: Any) -> Customer:
    return Customer(user_id=row.user_id, alias=row.alias, budget=budget_of(row),
                    blocked=bool(row.blocked), metadata=dict(row.metadata or {}),
                    created_at=utc(row.created_at), updated_at=utc(row.updated_at))
