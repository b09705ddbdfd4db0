"""Keys, teams, users and end users as the management API answers them: LiteLLM's field
names, times in ISO 8601 (UTC), never the plain key (only its token, the digest)."""

from __future__ import annotations

from typing import Any

from gatewise.proxy.access.entities import Budget, Customer, Key, Team, User

__all__ = ["customer_answer", "key_answer", "team_answer", "user_answer"]


def _budget(budget: Budget) -> dict[str, Any]:
    return {"spend": budget.spend, "max_budget": budget.max_budget,
            "budget_duration": budget.budget_duration,
            "budget_reset_at": budget.budget_reset_at, "rpm_limit": budget.rpm_limit,
            "tpm_limit": budget.tpm_limit,
            "max_parallel_requests": budget.max_parallel_requests}


def key_answer(key: Key) -> dict[str, Any]:
    return {"token": key.token, "key_name": key.key_name, "key_alias": key.key_alias,
            **_budget(key.budget), "models": list(key.models), "expires": key.expires,
            "team_id": key.team_id, "user_id": key.user_id, "metadata": key.metadata,
            "blocked": key.blocked, "created_at": key.created_at,
            "updated_at": key.updated_at, "created_by": key.created_by}


def team_answer(team: Team) -> dict[str, Any]:
    return {"team_id": team.team_id, "team_alias": team.team_alias, **_budget(team.budget),
            "models": list(team.models), "members_with_roles": list(team.members),
            "metadata": team.metadata, "blocked": team.blocked,
            "created_at": team.created_at, "updated_at": team.updated_at}


def user_answer(user: User) -> dict[str, Any]:
    return {"user_id": user.user_id, "user_email": user.user_email,
            "user_role": user.user_role, "teams": list(user.teams), **_budget(user.budget),
            "models": list(user.models), "metadata": user.metadata, "blocked": user.blocked,
            "created_at": user.created_at, "updated_at": user.updated_at}


def customer_answer(customer: Customer) -> dict[str, Any]:
    """LiteLLM nests an end user's budget in ``litellm_budget_table``; it is also given flat,
    like the other identities'."""
    budget = _budget(customer.budget)
    table = {k: v for k, v in budget.items() if k != "spend"}
    return {"user_id": customer.user_id, "alias": customer.alias, **budget,
            "blocked": customer.blocked, "metadata": customer.metadata,
            "litellm_budget_table": table if customer.budget.limited
            or customer.budget.budget_duration else None,
            "created_at": customer.created_at, "updated_at": customer.updated_at}
