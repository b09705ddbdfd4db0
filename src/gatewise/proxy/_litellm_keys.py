"""Keys LiteLLM documents in its proxy config that gatewise does not implement (from
LiteLLM's "All settings" reference): a config brought over from LiteLLM carries them, so
each is a warning ("ignored"), never mistaken for a typo of a key gatewise knows.

A key in no list here and close to one gatewise knows is taken for a typo of it (an error
with a suggestion: ``proxy._readers``); any other unknown key is a warning.
"""

from __future__ import annotations

TOP_LEVEL = frozenset({
    "include", "files_settings", "assistant_settings", "guardrails",
    "credential_list", "mcp_servers", "search_tools", "vector_store_registry",
    "finetune_settings", "prompts", "pass_through_endpoints",
})

LITELLM_SETTINGS = frozenset({
    "service_callbacks", "redact_user_api_key_info", "langfuse_default_tags",
    "modify_params", "enable_preview_features", "set_verbose",
    "default_fallbacks", "fallbacks", "content_policy_fallbacks", "context_window_fallbacks",
    "force_ipv4", "cache", "cache_params", "disable_end_user_cost_tracking",
    "disable_end_user_cost_tracking_prometheus_only", "key_generation_settings",
    "disable_add_transform_inline_image_block", "disable_hf_tokenizer_download",
    "enable_json_schema_validation", "enable_key_alias_format_validation",
    "disable_copilot_system_to_assistant", "mcp_aliases", "max_budget", "budget_duration",
    "max_parallel_requests", "allowed_fails", "telemetry", "upperbound_key_generate_params",
    "default_key_generate_params", "default_team_settings", "default_internal_user_params",
    "max_internal_user_budget", "internal_user_budget_duration", "max_end_user_budget",
    "use_chat_completions_url_for_anthropic_messages", "return_response_headers",
})

GENERAL_SETTINGS = frozenset({
    "completion_model", "disable_spend_updates",
    "disable_master_key_return", "disable_retry_on_max_parallel_request_limit_error",
    "disable_reset_budget", "disable_adding_master_key_hash_to_db",
    "disable_responses_id_security", "enable_jwt_auth", "enforce_user_param",
    "reject_clientside_metadata_tags", "allowed_routes", "key_management_system",
    "database_connection_pool_limit", "database_connection_timeout", "custom_auth",
    "max_parallel_requests",
    "global_max_parallel_requests", "infer_model_from_keys", "background_health_checks",
    "health_check_interval", "alerting", "alerting_threshold",
    "use_client_credentials_pass_through_routes", "health_check_details", "public_routes",
    "alert_types", "enforced_params", "enable_oauth2_auth", "use_x_forwarded_for",
    "service_account_settings", "image_generation_model", "store_model_in_db",
    "supported_db_objects", "user_mcp_management_mode", "store_prompts_in_spend_logs",
    "max_response_size_mb", "proxy_budget_rescheduler_min_time",
    "proxy_budget_rescheduler_max_time",
    "proxy_batch_polling_interval", "alerting_args", "custom_key_generate", "allowed_ips",
    "embedding_model", "default_team_disabled", "alert_to_webhook_url",
    "key_management_settings", "allow_user_auth", "user_api_key_cache_ttl",
    "disable_prisma_schema_update", "litellm_key_header_name", "moderation_model",
    "custom_sso", "allow_client_side_credentials", "admin_only_routes",
    "use_azure_key_vault", "use_google_kms", "spend_report_frequency", "ui_access_mode",
    "litellm_jwtauth", "litellm_license", "oauth2_config_mappings", "pass_through_endpoints",
    "enable_oauth2_proxy_auth", "forward_openai_org_id", "forward_client_headers_to_llm_api",
    "maximum_spend_logs_retention_period", "maximum_spend_logs_retention_interval",
    "user_header_name", "use_redis_transaction_buffer",
})

ROUTER_SETTINGS = frozenset({
    "redis_db",
    "enable_pre_call_check", "enable_pre_call_checks", "enable_tag_filtering",
    "tag_filtering_match_any", "disable_cooldowns", "retry_policy", "allowed_fails_policy",
    "default_max_parallel_requests", "default_priority", "polling_interval",
    "default_litellm_params", "debug_level", "client_ttl", "cache_kwargs",
    "routing_strategy_args", "default_fallbacks", "caching_groups", "alerting_config",
    "assistants_config", "set_verbose", "retry_after", "provider_budget_config",
    "model_group_retry_policy", "cache_responses", "router_general_settings",
    "optional_pre_call_checks", "deployment_affinity_ttl_seconds",
    "ignore_invalid_deployments", "search_tools", "guardrail_list",
})

PARAMS = frozenset({
    # LiteLLM call options and other providers' settings, passed on to the adapter as
    # before (it refuses or, with drop_params, drops them); only never taken for typos.
    "api_version", "organization", "region_name", "tags", "input_cost_per_second",
    "output_cost_per_second", "max_budget", "budget_duration", "use_in_pass_through",
    "litellm_credential_name", "configurable_clientside_auth_params", "azure_ad_token",
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_region_name",
    "aws_profile_name", "aws_role_name", "aws_session_name", "aws_web_identity_token",
    "vertex_project", "vertex_location", "vertex_credentials", "merge_reasoning_content_in_choices",
    "cache_control_injection_points", "mock_testing_fallbacks", "mock_timeout",
    # OpenAI parameters the provider may not honour (the adapter says so, not a typo).
    "top_k", "logprobs", "top_logprobs", "logit_bias", "modalities", "audio",
    "web_search_options", "verbosity",
})

BY_SECTION: dict[str, frozenset[str]] = {
    "": TOP_LEVEL,
    "settings": LITELLM_SETTINGS,
    "litellm_settings": LITELLM_SETTINGS,
    "general_settings": GENERAL_SETTINGS,
    "router_settings": ROUTER_SETTINGS,
}
