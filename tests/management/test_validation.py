"""Every management body is checked strictly: each problem is a 400 in OpenAI's shape
naming the field; unknown fields and LiteLLM's unsupported ones are refused, never
ignored.  One test per backend walks the whole table (a fresh database per case would
only make the suite slower)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.management._client import Admin
from tests.management._litellm import (
    LITELLM_GENERATE_KEY,
    LITELLM_NEW_TEAM,
    LITELLM_NEW_USER,
    LITELLM_REGENERATE_KEY,
    LITELLM_UPDATE_KEY,
)
from tests.proxy.conftest import call

BAD: list[tuple[str, dict[str, Any], str]] = [
    # /key/generate: types, ranges, durations, models, references, unknown/unsupported fields
    ("/key/generate", {"max_budget": -1}, "max_budget"),
    ("/key/generate", {"max_budget": "10"}, "max_budget"),
    ("/key/generate", {"budget_duration": "10x"}, "budget_duration"),
    ("/key/generate", {"budget_duration": "0d"}, "budget_duration"),
    ("/key/generate", {"duration": "10x"}, "duration"),
    ("/key/generate", {"budget_duration": "fortnightly"}, "budget_duration"),
    ("/key/generate", {"budget_duration": "2 weeks"}, "budget_duration"),
    ("/key/generate", {"duration": "yearly"}, "duration"),
    ("/key/generate", {"rpm_limit": 0}, "rpm_limit"),
    ("/key/generate", {"rpm_limit": -5}, "rpm_limit"),
    ("/key/generate", {"rpm_limit": True}, "rpm_limit"),
    ("/key/generate", {"tpm_limit": "1000"}, "tpm_limit"),
    ("/key/generate", {"max_parallel_requests": 1.5}, "max_parallel_requests"),
    ("/key/generate", {"models": ["gpt-4o"]}, "models"),
    ("/key/generate", {"models": ["demo", "nope"]}, "models"),
    ("/key/generate", {"models": "demo"}, "models"),
    ("/key/generate", {"models": ["no-default-models"]}, "models"),
    ("/key/generate", {"models": ["gpt-*"]}, "models"),
    ("/key/generate", {"team_id": "ghost"}, "team_id"),
    ("/key/generate", {"user_id": "ghost"}, "user_id"),
    ("/key/generate", {"team_id": "t", "models": ["embed"]}, "models"),
    ("/key/generate", {"key_alias": ""}, "key_alias"),
    ("/key/generate", {"key_alias": "a\nb"}, "key_alias"),
    ("/key/generate", {"key_alias": "x" * 257}, "key_alias"),
    ("/key/generate", {"metadata": ["x"]}, "metadata"),
    ("/key/generate", {"blocked": "yes"}, "blocked"),
    ("/key/generate", {"key": "not-sk"}, "key"),
    ("/key/generate", {"key": "sk-short"}, "key"),
    ("/key/generate", {"colour": "red"}, "colour"),
    *[("/key/generate", {name: value}, name) for name, value in (
        ("aliases", {"a": "demo"}), ("config", {"x": 1}), ("permissions", {"p": True}),
        ("model_max_budget", {"demo": 1}), ("soft_budget", 1.0), ("guardrails", ["g"]),
        ("spend", 5), ("tags", ["t"]), ("model_rpm_limit", {"demo": 1}),
        ("allowed_cache_controls", ["no-cache"]), ("key_type", "llm_api"),
        ("auto_rotate", True), ("agent_id", "a"), ("budget_limits", [{}]))],
    ("/key/update", {"key": "k", "spend": 0}, "spend"),  # a reset, not a default
    ("/key/regenerate", {"key": "k", "grace_period": "24h"}, "grace_period"),
    ("/key/update", {"rpm_limit": 1}, "key"),
    ("/key/update", {"key": "k", "max_budget": -0.01}, "max_budget"),
    ("/key/update", {"key": "k", "team_id": None, "user_role": "x"}, "user_role"),
    ("/key/update", {"key": "k", "models": ["nope"]}, "models"),
    ("/key/regenerate", {"key": "k", "new_key": "bad"}, "new_key"),
    ("/key/block", {}, "key"),
    ("/key/block", {"key": "k", "blocked": True}, "blocked"),
    ("/key/unblock", {"key": 5}, "key"),
    ("/key/delete", {"keys": "sk-x"}, "keys"),
    ("/key/delete", {"keys": ["k"], "extra": 1}, "extra"),
    # teams
    ("/team/new", {"max_budget": -1}, "max_budget"),
    ("/team/new", {"budget_duration": "10x"}, "budget_duration"),
    ("/team/new", {"rpm_limit": 0}, "rpm_limit"),
    ("/team/new", {"models": ["nope"]}, "models"),
    ("/team/new", {"team_id": "x" * 129}, "team_id"),
    ("/team/new", {"team_id": "bad\x00id"}, "team_id"),
    ("/team/new", {"members_with_roles": [{"role": "owner", "user_id": "u"}]},
     "members_with_roles[0].role"),
    ("/team/new", {"members_with_roles": [{"user_id": "u", "team": "x"}]},
     "members_with_roles[0].team"),
    ("/team/new", {"model_aliases": {"a": "demo"}}, "model_aliases"),
    ("/team/new", {"organization_id": "o"}, "organization_id"),
    ("/team/new", {"colour": 1}, "colour"),
    ("/team/new", {"admins": ["u"]}, "admins"),
    ("/team/new", {"router_settings": {"num_retries": 1}}, "router_settings"),
    ("/team/update", {"rpm_limit": 1}, "team_id"),
    ("/team/update", {"team_id": "t", "tpm_limit": 0}, "tpm_limit"),
    ("/team/delete", {"team_ids": []}, "team_ids"),
    ("/team/delete", {}, "team_ids"),
    ("/team/member_add", {"team_id": "t"}, "member"),
    ("/team/member_add", {"team_id": "t", "member": {"role": "boss", "user_id": "u"}},
     "member[0].role"),
    ("/team/member_add", {"team_id": "t", "member": {"user_id": "u"},
                          "max_budget_in_team": 1}, "max_budget_in_team"),
    ("/team/member_delete", {"team_id": "t"}, "member"),
    ("/team/block", {"team_id": 1}, "team_id"),
    # users
    ("/user/new", {"user_role": "god"}, "user_role"),
    ("/user/new", {"user_email": "not-an-email"}, "user_email"),
    ("/user/new", {"teams": ["ghost"]}, "teams"),
    ("/user/new", {"auto_create_key": "yes"}, "auto_create_key"),
    ("/user/new", {"auto_create_key": False, "key_alias": "k"}, "auto_create_key"),
    ("/user/new", {"max_budget": -1}, "max_budget"),
    ("/user/new", {"budget_duration": "1y"}, "budget_duration"),
    ("/user/new", {"models": ["nope"]}, "models"),
    ("/user/new", {"user_alias": "Ann"}, "user_alias"),
    ("/user/new", {"send_invite_email": True}, "send_invite_email"),
    ("/user/new", {"config": {"x": 1}}, "config"),
    ("/user/new", {"spend": 0.5}, "spend"),
    ("/user/update", {"rpm_limit": 5}, "user_id"),
    ("/user/update", {"user_id": "u", "user_role": "root"}, "user_role"),
    ("/user/update", {"user_id": "u", "teams": ["t"]}, "teams"),
    ("/user/delete", {"user_ids": "u"}, "user_ids"),
    # end users
    ("/customer/new", {}, "user_id"),
    ("/customer/new", {"user_id": "c", "max_budget": -1}, "max_budget"),
    ("/customer/new", {"user_id": "c", "budget_duration": "10x"}, "budget_duration"),
    ("/customer/new", {"user_id": "c", "models": ["demo"]}, "models"),
    ("/customer/new", {"user_id": "c", "default_model": "demo"}, "default_model"),
    ("/end_user/new", {"user_id": "c", "allowed_model_region": "eu"}, "allowed_model_region"),
    ("/customer/update", {"user_id": "c", "rpm_limit": 0}, "rpm_limit"),
    ("/customer/block", {"user_ids": []}, "user_ids"),
    ("/customer/delete", {"user_id": "c"}, "user_id"),
]


async def test_every_bad_body_is_a_400_naming_the_field(admin: Admin) -> None:
    await admin.ok("/team/new", {"team_id": "t", "models": ["demo"]})
    failures: list[tuple[Any, ...]] = []
    for path, body, param in BAD:
        answer = await admin.post(path, body)
        error = answer.error() if answer.status >= 400 else {}
        if answer.status != 400 or error.get("param") != param:
            failures.append((path, body, param, answer.status, error))
        elif error["type"] != "invalid_request_error" or param not in error["message"]:
            failures.append((path, body, param, "message", error))
    assert failures == []
    # Nothing of that was stored.
    assert (await admin.ok("/key/list"))["total_count"] == 0
    assert [t["team_id"] for t in await admin.ok("/team/list")] == ["t"]


async def test_durations_take_weeks_and_litellms_words(admin: Admin) -> None:
    made = await admin.ok("/key/generate", {"budget_duration": "2w", "max_budget": 1.0,
                                            "duration": "weekly"})
    assert made["budget_duration"] == "2w"
    expires = datetime.fromisoformat(made["expires"])
    assert timedelta(days=6.9) < expires - datetime.now(UTC) <= timedelta(days=7)
    for word in ("hourly", "daily", "weekly", "monthly"):
        team = await admin.ok("/team/new", {"budget_duration": word, "max_budget": 1.0})
        assert team["budget_duration"] == word and team["budget_reset_at"] is not None
    user = await admin.ok("/user/new", {"budget_duration": "daily", "duration": "2w"})
    assert user["budget_duration"] == "daily"
    error = await admin.error(400, "/key/update", {"key": made["key"],
                                                   "budget_duration": "biweekly"})
    assert error["param"] == "budget_duration" and "weekly" in error["message"]


async def test_unsupported_fields_say_so(admin: Admin) -> None:
    error = await admin.error(400, "/key/generate", {"model_max_budget": {"demo": 1}})
    assert "not support" in error["message"] and error["code"] == "unsupported_field"
    error = await admin.error(400, "/key/generate", {"max_budgett": 1})
    assert "unknown field `max_budgett`" in error["message"] and "max_budget" in error["message"]


async def test_litellm_bodies_with_unsupported_fields_left_empty_are_accepted(
        admin: Admin) -> None:
    """LiteLLM's clients send every field of their request models: an unsupported one
    that asks for nothing (empty, or LiteLLM's default) is ignored, not refused."""
    team = await admin.ok("/team/new", {**LITELLM_NEW_TEAM, "team_id": "t1"})
    assert team["team_id"] == "t1"
    user = await admin.ok("/user/new", {**LITELLM_NEW_USER, "user_id": "u1",
                                        "user_alias": "", "organizations": []})
    assert user["user_id"] == "u1" and user["key"].startswith("sk-")
    made = await admin.ok("/key/generate", {**LITELLM_GENERATE_KEY, "key_alias": "app",
                                            "team_id": "t1", "spend": 0.0})
    assert made["key_alias"] == "app" and made["team_id"] == "t1"
    updated = await admin.ok("/key/update", {**LITELLM_UPDATE_KEY, "key": made["key"],
                                             "max_budget": 5.0})
    assert updated["max_budget"] == 5.0
    again = await admin.ok("/key/regenerate", {**LITELLM_REGENERATE_KEY,
                                               "key": made["key"]})
    assert again["key"] != made["key"] and again["max_budget"] is None  # null: no budget
    await admin.ok("/team/update", {"team_id": "t1", "tags": [], "model_aliases": {},
                                    "soft_budget": None, "team_member_budget": None})
    await admin.ok("/user/update", {"user_id": "u1", "password": None, "config": {},
                                    "user_alias": ""})
    await admin.ok("/customer/new", {"user_id": "c1", "budget_id": None, "spend": None,
                                     "allowed_model_region": None, "default_model": None})


async def test_unsupported_query_parameters_left_empty_are_ignored(admin: Admin) -> None:
    await admin.ok("/key/generate", {"key_alias": "a"})
    listed = await admin.ok("/key/list", organization_id="", include_team_keys="false",
                            include_created_by_keys="False", sort_by="", page=1)
    assert listed["total_count"] == 1
    await admin.ok("/user/list", organization_id="", sort_by="")
    await admin.ok("/team/list", organization_id="")
    for path, name, value in (("/key/list", "organization_id", "o"),
                              ("/key/list", "include_team_keys", "true"),
                              ("/team/list", "organization_id", "o")):
        error = await admin.error(400, path, **{name: value})
        assert error["code"] == "unsupported_field" and error["param"] == name
        assert name in error["message"]


async def test_values_are_never_echoed_in_errors(admin: Admin) -> None:
    error = await admin.error(400, "/key/generate", {"key": "sk-bad key with spaces"})
    assert "bad key" not in error["message"]
    error = await admin.error(404, "/key/info", key="sk-some-secret-value")
    assert "sk-some-secret-value" not in error["message"]


@pytest.mark.parametrize("body", [b"{", b"[1]", b'"x"', b"null"])
async def test_a_body_that_is_not_an_object(admin: Admin, body: bytes) -> None:
    answer = await call(admin.app, "POST", "/key/generate", body=body,
                        headers={"authorization": "Bearer sk-master-key-for-tests"})
    assert answer.status == 400 and answer.error()["type"] == "invalid_request_error"


async def test_routes_need_the_master_key_and_the_right_method(admin: Admin) -> None:
    answer = await call(admin.app, "POST", "/key/generate", {})
    assert answer.status == 401
    answer = await call(admin.app, "GET", "/key/generate",
                        headers={"authorization": "Bearer sk-master-key-for-tests"})
    assert answer.status == 405
    answer = await call(admin.app, "POST", "/v1/key/generate", {},
                        headers={"authorization": "Bearer sk-master-key-for-tests"})
    assert answer.status == 200


async def test_model_lists_take_served_names_aliases_patterns_and_every_model(
        admin: Admin) -> None:
    made = await admin.ok("/key/generate", {"models": ["small", "emb*", "demo", "demo"]})
    assert made["models"] == ["small", "emb*", "demo"]
    for every in ("all-proxy-models", "*", "all-team-models"):
        assert (await admin.ok("/key/generate", {"models": ["demo", every]}))["models"] == []
