"""What LiteLLM's management clients send: its request models (GenerateKeyRequest,
UpdateKeyRequest, RegenerateKeyRequest, NewTeamRequest, NewUserRequest) dumped with every
field at its default, as ``model.model_dump()`` gives them -- the fields gatewise does not
support among them, empty or at LiteLLM's default."""

from __future__ import annotations

from typing import Any

_GENERATE_BASE: dict[str, Any] = {  # GenerateRequestBase: keys and users
    "key_alias": None, "duration": None, "models": [], "spend": 0, "max_budget": None,
    "user_id": None, "team_id": None, "agent_id": None, "max_parallel_requests": None,
    "metadata": {}, "tpm_limit": None, "rpm_limit": None, "budget_duration": None,
    "budget_limits": None, "allowed_cache_controls": [], "config": {}, "permissions": {},
    "model_max_budget": {}, "budget_fallbacks": None, "model_rpm_limit": None,
    "model_tpm_limit": None, "guardrails": None, "policies": None, "prompts": None,
    "blocked": None, "aliases": {}, "object_permission": None}
_KEY_BASE: dict[str, Any] = {  # KeyRequestBase
    **_GENERATE_BASE, "key": None, "budget_id": None, "tags": None, "enforced_params": None,
    "allowed_routes": [], "allowed_passthrough_routes": None,
    "allowed_vector_store_indexes": None, "rpm_limit_type": None, "tpm_limit_type": None,
    "router_settings": None, "access_group_ids": None}
LITELLM_GENERATE_KEY: dict[str, Any] = {
    **_KEY_BASE, "soft_budget": None, "send_invite_email": None, "key_type": "default",
    "auto_rotate": False, "rotation_interval": None, "organization_id": None,
    "project_id": None}
LITELLM_UPDATE_KEY: dict[str, Any] = {
    **_KEY_BASE, "spend": None, "metadata": None, "temp_budget_increase": None,
    "temp_budget_expiry": None, "auto_rotate": None, "rotation_interval": None,
    "organization_id": None}
LITELLM_REGENERATE_KEY: dict[str, Any] = {
    **LITELLM_GENERATE_KEY, "spend": None, "metadata": None, "new_key": None,
    "new_master_key": None, "grace_period": None}
LITELLM_NEW_TEAM: dict[str, Any] = {
    "team_alias": None, "team_id": None, "organization_id": None, "admins": [],
    "members": [], "members_with_roles": [], "team_member_permissions": None,
    "metadata": None, "tpm_limit": None, "rpm_limit": None, "max_budget": None,
    "soft_budget": None, "budget_duration": None, "budget_limits": None, "models": [],
    "blocked": False, "router_settings": None, "access_group_ids": None,
    "default_team_member_models": None, "model_aliases": None, "tags": None,
    "guardrails": None, "policies": None, "prompts": None, "object_permission": None,
    "allowed_passthrough_routes": None, "secret_manager_settings": None,
    "model_rpm_limit": None, "rpm_limit_type": None, "tpm_limit_type": None,
    "model_tpm_limit": None, "team_member_budget": None, "team_member_rpm_limit": None,
    "team_member_tpm_limit": None, "team_member_key_duration": None,
    "team_member_budget_duration": None, "allowed_vector_store_indexes": None,
    "enforced_batch_output_expires_after": None, "enforced_file_expires_after": None}
LITELLM_NEW_USER: dict[str, Any] = {
    **_GENERATE_BASE, "user_email": None, "user_alias": None, "user_role": None,
    "teams": None, "auto_create_key": True, "send_invite_email": None,
    "sso_user_id": None, "organizations": None}
