"""The management API's bodies: LiteLLM's field names and types, checked strictly (see
``_fields``).  Each lists the LiteLLM fields it refuses as not supported (when they ask
for something: LiteLLM's clients send them all, empty)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from gatewise.proxy.access.entities import USER_ROLES
from gatewise.proxy.routes._fields import (
    Alias,
    Body,
    CustomKey,
    DurationText,
    Email,
    EndUserId,
    Id,
    KeyRef,
    Limits,
    Models,
)

# LiteLLM's fields gatewise does not enforce: refused when they ask for something, never
# ignored (the field lists of LiteLLM's GenerateKeyRequest, UpdateKeyRequest,
# RegenerateKeyRequest, NewTeamRequest, UpdateTeamRequest, NewUserRequest,
# UpdateUserRequest, NewCustomerRequest).
_LIMITS_UNSUPPORTED = frozenset({
    "soft_budget", "model_max_budget", "model_rpm_limit", "model_tpm_limit", "spend",
    "budget_id", "tags", "guardrails", "object_permission", "prompts", "organization_id",
    "rpm_limit_type", "tpm_limit_type", "allowed_passthrough_routes",
    "allowed_vector_store_indexes", "policies", "access_group_ids", "budget_limits",
    "budget_fallbacks", "agent_id", "project_id", "router_settings"})
KEY_UNSUPPORTED = _LIMITS_UNSUPPORTED | {
    "aliases", "config", "permissions", "allowed_cache_controls", "enforced_params",
    "key_type", "send_invite_email", "auto_rotate", "rotation_interval", "allowed_routes",
    "temp_budget_increase", "temp_budget_expiry", "soft_budget_cooldown", "token",
    "new_master_key", "disable_global_guardrails", "litellm_budget_table",
    "created_by", "updated_by", "grace_period"}
TEAM_UNSUPPORTED = _LIMITS_UNSUPPORTED | {
    "model_aliases", "admins", "members", "team_member_budget", "team_member_rpm_limit",
    "team_member_tpm_limit", "team_member_key_duration", "team_member_permissions",
    "team_member_budget_duration", "default_team_member_models", "secret_manager_settings",
    "max_budget_in_team", "enforced_batch_output_expires_after",
    "enforced_file_expires_after"}
USER_UNSUPPORTED = _LIMITS_UNSUPPORTED | {
    "user_alias", "send_invite_email", "aliases", "config", "permissions",
    "allowed_cache_controls", "sso_user_id", "organizations", "key_duration", "password",
    "team_id"}
CUSTOMER_UNSUPPORTED = _LIMITS_UNSUPPORTED | {
    "allowed_model_region", "default_model", "litellm_budget_table", "budget_reset_at"}

# What LiteLLM's request models send by default for some of those, asking for nothing.
_NEW_KEY_DEFAULTS = {"key_type": "default", "auto_rotate": False}


class _KeyFields(Limits):
    unsupported = KEY_UNSUPPORTED

    models: Models | None = None
    key_alias: Alias | None = None
    duration: DurationText | None = None  # expiry, from now
    team_id: Id | None = None
    user_id: Id | None = None


class GenerateKey(_KeyFields):
    litellm_defaults = {**_NEW_KEY_DEFAULTS, "spend": 0}

    key: CustomKey | None = None  # a caller-chosen key


class UpdateKey(_KeyFields):
    key: KeyRef


class RegenerateKey(UpdateKey):
    litellm_defaults = _NEW_KEY_DEFAULTS

    new_key: CustomKey | None = None


class KeyRefBody(Body):
    unsupported = KEY_UNSUPPORTED
    key: KeyRef


class DeleteKeys(Body):
    keys: list[KeyRef] | None = Field(default=None, max_length=1000)
    key_aliases: list[Alias] | None = Field(default=None, max_length=1000)


class Member(Body):
    role: Literal["admin", "user"] = "user"
    user_id: Id | None = None
    user_email: Email | None = None


class _TeamFields(Limits):
    unsupported = TEAM_UNSUPPORTED

    models: Models | None = None
    team_alias: Alias | None = None


class NewTeam(_TeamFields):
    team_id: Id | None = None
    members_with_roles: list[Member] | None = Field(default=None, max_length=1000)


class UpdateTeam(_TeamFields):
    team_id: Id


class TeamRef(Body):
    unsupported = TEAM_UNSUPPORTED
    team_id: Id


class DeleteTeams(Body):
    team_ids: list[Id] = Field(min_length=1, max_length=1000)


class MemberAdd(Body):
    unsupported = TEAM_UNSUPPORTED
    team_id: Id
    member: list[Member] = Field(min_length=1, max_length=1000)  # or one member

    @field_validator("member", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value


class MemberDelete(Body):
    team_id: Id
    user_id: Id | None = None
    user_email: Email | None = None


Role = Literal[USER_ROLES]  # type: ignore[valid-type]


class _UserFields(Limits):
    unsupported = USER_UNSUPPORTED

    models: Models | None = None
    user_email: Email | None = None
    user_role: Role | None = None


class NewUser(_UserFields):
    litellm_defaults = {"spend": 0}

    user_id: Id | None = None
    teams: list[Id] | None = Field(default=None, max_length=1000)
    auto_create_key: bool = True  # LiteLLM's default: /user/new answers with a key
    key_alias: Alias | None = None  # the key's
    duration: DurationText | None = None  # the key's expiry


class UpdateUser(_UserFields):
    user_id: Id | None = None  # else the user is found by user_email


class DeleteUsers(Body):
    user_ids: list[Id] = Field(min_length=1, max_length=1000)


class _CustomerFields(Limits):
    unsupported = CUSTOMER_UNSUPPORTED

    alias: Alias | None = None


class NewCustomer(_CustomerFields):
    user_id: EndUserId


class UpdateCustomer(_CustomerFields):
    user_id: EndUserId


class CustomerIds(Body):
    user_ids: list[EndUserId] = Field(min_length=1, max_length=1000)
