"""The key routes on both backends: LiteLLM's paths, fields and answer shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gatewise.proxy.access.secrets import digest
from tests.management._client import Admin
from tests.proxy.conftest import call

GENERATED = {"key", "token", "token_id", "key_name", "key_alias", "expires", "models",
             "max_budget", "budget_duration", "budget_reset_at", "rpm_limit", "tpm_limit",
             "max_parallel_requests", "team_id", "user_id", "metadata", "blocked", "spend",
             "created_at", "updated_at", "created_by"}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_generate_answers_litellm_shape_and_info_reads_it(admin: Admin) -> None:
    before = datetime.now(UTC)
    made = await admin.ok("/key/generate", {
        "models": ["demo", "small"], "max_budget": 10, "budget_duration": "30d",
        "rpm_limit": 60, "tpm_limit": 10000, "max_parallel_requests": 4, "duration": "1h",
        "key_alias": "app-1", "metadata": {"owner": "ops"}})
    assert set(made) == GENERATED
    plain, token = made["key"], made["token"]
    assert plain.startswith("sk-") and token == digest(plain) == made["token_id"]
    assert made["key_name"] == f"sk-...{plain[-4:]}"
    assert made["models"] == ["demo", "small"] and made["max_budget"] == 10.0
    assert made["spend"] == 0.0 and made["blocked"] is False and made["metadata"] == {
        "owner": "ops"}
    expires = _time(made["expires"])
    assert before + timedelta(minutes=59) < expires < before + timedelta(minutes=61)
    reset = _time(made["budget_reset_at"])
    assert before + timedelta(days=29) < reset < before + timedelta(days=31)
    assert admin.changed == [("key", token)]
    for ref in (plain, token):  # the key or its token
        info = await admin.ok("/key/info", key=ref)
        assert info["key"] == ref
        assert info["info"]["token"] == token and "key" not in info["info"]
        assert {k: info["info"][k] for k in ("key_alias", "rpm_limit", "spend", "expires")} \
            == {"key_alias": "app-1", "rpm_limit": 60, "spend": 0.0,
                "expires": made["expires"]}
    await admin.error(404, "/key/info", key="sk-no-such-key")
    error = await admin.error(400, "/key/info")
    assert error["param"] == "key"


async def test_a_caller_chosen_key(admin: Admin) -> None:
    made = await admin.ok("/key/generate", {"key": "sk-my-own-key-123"})
    assert made["key"] == "sk-my-own-key-123" and made["token"] == digest("sk-my-own-key-123")
    error = await admin.error(409, "/key/generate", {"key": "sk-my-own-key-123"})
    assert error["param"] == "key"
    error = await admin.error(400, "/key/generate", {"key": "sk-master-key-for-tests"})
    assert error["param"] == "key" and "master" in error["message"]
    assert "sk-master-key-for-tests" not in error["message"]


async def test_update_changes_fields_and_starts_a_budget_period(admin: Admin) -> None:
    made = await admin.ok("/key/generate", {"max_budget": 5, "key_alias": "a"})
    assert made["budget_reset_at"] is None
    admin.changed.clear()
    updated = await admin.ok("/key/update", {"key": made["key"], "budget_duration": "1h",
                                             "models": ["embed"], "rpm_limit": 5})
    assert updated["key"] == made["key"] and updated["rpm_limit"] == 5
    assert updated["models"] == ["embed"] and updated["max_budget"] == 5.0
    reset = _time(updated["budget_reset_at"])
    assert timedelta(minutes=59) < reset - datetime.now(UTC) < timedelta(minutes=61)
    assert admin.changed == [("key", made["token"])]
    # The same duration again keeps the period; null removes a limit; by token too.
    again = await admin.ok("/key/update", {"key": made["token"], "budget_duration": "1h",
                                           "rpm_limit": None, "duration": "2d"})
    assert again["budget_reset_at"] == updated["budget_reset_at"]
    assert again["rpm_limit"] is None and again["expires"] is not None
    never = await admin.ok("/key/update", {"key": made["token"], "duration": None,
                                           "budget_duration": None, "models": []})
    assert never["expires"] is None and never["budget_reset_at"] is None
    assert never["models"] == []
    await admin.error(404, "/key/update", {"key": "sk-unknown-key-1", "rpm_limit": 1})


async def test_aliases_are_unique(admin: Admin) -> None:
    await admin.ok("/key/generate", {"key_alias": "shared"})
    other = await admin.ok("/key/generate", {})
    for path, body in (("/key/generate", {"key_alias": "shared"}),
                       ("/key/update", {"key": other["key"], "key_alias": "shared"})):
        error = await admin.error(409, path, body)
        assert error["param"] == "key_alias" and "shared" in error["message"]


async def test_regenerate_gives_a_new_key_and_the_old_one_stops(admin: Admin) -> None:
    made = await admin.ok("/key/generate", {"key_alias": "rotating", "max_budget": 3})
    admin.changed.clear()
    fresh = await admin.ok("/key/regenerate", {"key": made["key"], "rpm_limit": 7})
    assert fresh["key"] != made["key"] and fresh["token"] == digest(fresh["key"])
    assert fresh["key_alias"] == "rotating" and fresh["max_budget"] == 3.0
    assert fresh["rpm_limit"] == 7
    assert admin.changed == [("key", made["token"]), ("key", fresh["token"])]
    await admin.error(404, "/key/info", key=made["key"])
    await admin.error(404, "/key/regenerate", {"key": made["key"]})
    assert (await admin.ok("/key/info", key=fresh["key"]))["info"]["key_alias"] == "rotating"
    chosen = await admin.ok("/key/regenerate", {"key": fresh["token"],
                                                "new_key": "sk-chosen-new-value"})
    assert chosen["key"] == "sk-chosen-new-value"


async def test_regenerate_with_the_key_in_the_path(admin: Admin) -> None:
    """LiteLLM's ``POST /key/{key}/regenerate``: the key (or its token) in the path, a
    body optional; no answer repeats the key of the path."""
    made = await admin.ok("/key/generate", {"key_alias": "rotating", "max_budget": 3})
    master = {"authorization": f"Bearer {admin.key}"}
    answer = await call(admin.app, "POST", f"/key/{made['key']}/regenerate", headers=master)
    assert answer.status == 200, answer.body
    fresh = answer.json()
    assert fresh["key"] != made["key"] and fresh["token"] == digest(fresh["key"])
    assert fresh["key_alias"] == "rotating" and fresh["max_budget"] == 3.0
    await admin.error(404, "/key/info", key=made["key"])
    # The token in the path, fields and a chosen key in the body, under /v1 too.
    again = await admin.ok(f"/v1/key/{fresh['token']}/regenerate/",
                           {"new_key": "sk-chosen-in-path-form", "rpm_limit": 9,
                            "tags": [], "key": fresh["token"]})
    assert again["key"] == "sk-chosen-in-path-form" and again["rpm_limit"] == 9
    error = await admin.error(400, f"/key/{again['key']}/regenerate", {"key": "sk-other-1"})
    assert error["param"] == "key"
    error = await admin.error(400, f"/key/{again['key']}/regenerate", {"tags": ["x"]})
    assert error["code"] == "unsupported_field"
    error = await admin.error(404, "/key/sk-unknown-key-in-path/regenerate", {})
    assert "sk-unknown-key-in-path" not in error["message"]
    for method, path, status in (("GET", f"/key/{again['key']}/regenerate", 405),
                                 ("POST", f"/key/{again['key']}/rotate", 404),
                                 ("POST", "/key//regenerate", 404)):
        answer = await call(admin.app, method, path, headers=master)
        assert answer.status == status, (method, path, answer.body)
        assert again["key"] not in answer.body.decode()
    me = admin.as_key(again["key"])
    await me.error(403, f"/key/{again['key']}/regenerate", {})


async def test_block_and_unblock(admin: Admin) -> None:
    made = await admin.ok("/key/generate", {})
    blocked = await admin.ok("/key/block", {"key": made["key"]})
    assert blocked["blocked"] is True and blocked["token"] == made["token"]
    assert "key" not in blocked
    assert (await admin.ok("/key/info", key=made["token"]))["info"]["blocked"] is True
    assert (await admin.ok("/key/unblock", {"key": made["token"]}))["blocked"] is False
    await admin.error(404, "/key/block", {"key": "sk-unknown-key-1"})


async def test_delete_by_key_or_alias_all_or_nothing(admin: Admin) -> None:
    one = await admin.ok("/key/generate", {"key_alias": "one"})
    two = await admin.ok("/key/generate", {"key_alias": "two"})
    three = await admin.ok("/key/generate", {"key_alias": "three"})
    error = await admin.error(404, "/key/delete", {"keys": [one["key"], "sk-not-a-key-1"]})
    assert error["param"] == "keys[1]" and "sk-not-a-key-1" not in error["message"]
    assert (await admin.ok("/key/info", key=one["token"]))["info"]["key_alias"] == "one"
    admin.changed.clear()
    deleted = await admin.ok("/key/delete", {"keys": [one["key"], two["token"]]})
    assert deleted == {"deleted_keys": [one["key"], two["token"]]}
    assert admin.changed == [("key", one["token"]), ("key", two["token"])]
    await admin.error(404, "/key/info", key=one["key"])
    error = await admin.error(404, "/key/delete", {"key_aliases": ["three", "nope"]})
    assert error["param"] == "key_aliases" and "nope" in error["message"]
    assert await admin.ok("/key/delete", {"key_aliases": ["three"]}) == {
        "deleted_keys": ["three"]}
    await admin.error(404, "/key/info", key=three["key"])
    error = await admin.error(400, "/key/delete", {"keys": []})
    assert error["param"] == "keys"


async def test_list_pages_and_filters(admin: Admin) -> None:
    await admin.ok("/team/new", {"team_id": "t1"})
    await admin.ok("/user/new", {"user_id": "u1", "auto_create_key": False})
    made = [await admin.ok("/key/generate", {"team_id": "t1" if i % 2 else None,
                                             "key_alias": f"k{i}"}) for i in range(5)]
    await admin.ok("/key/update", {"key": made[0]["key"], "user_id": "u1"})
    page = await admin.ok("/key/list", page=1, size=2)
    assert page["total_count"] == 5 and page["total_pages"] == 3 and page["current_page"] == 1
    assert len(page["keys"]) == 2 and all(len(k) == 64 for k in page["keys"])
    every = [k for p in (1, 2, 3) for k in (await admin.ok("/key/list", page=p, size=2))["keys"]]
    assert sorted(every) == sorted(m["token"] for m in made)
    team = await admin.ok("/key/list", team_id="t1")
    assert sorted(team["keys"]) == sorted([made[1]["token"], made[3]["token"]])
    assert (await admin.ok("/key/list", user_id="u1"))["keys"] == [made[0]["token"]]
    assert (await admin.ok("/key/list", key_alias="k4"))["keys"] == [made[4]["token"]]
    assert (await admin.ok("/key/list", key_hash=made[2]["token"]))["total_count"] == 1
    full = await admin.ok("/key/list", return_full_object="true", key_alias="k1")
    assert full["keys"][0]["token"] == made[1]["token"] and "key" not in full["keys"][0]
    for query, param in (({"size": 0}, "size"), ({"size": 101}, "size"), ({"page": "x"}, "page"),
                         ({"colour": "red"}, "colour"), ({"sort_by": "spend"}, "sort_by"),
                         ({"return_full_object": "maybe"}, "return_full_object")):
        assert (await admin.error(400, "/key/list", **query))["param"] == param


async def test_a_key_reads_its_own_info_and_nothing_else(admin: Admin) -> None:
    made = [await admin.ok("/key/generate", {}) for _ in range(2)]
    me = admin.as_key(made[0]["key"])
    for query in ({}, {"key": made[0]["key"]}, {"key": made[0]["token"]}):
        info = await me.ok("/key/info", **query)
        assert info["info"]["token"] == made[0]["token"]
    assert (await me.error(403, "/key/info", key=made[1]["token"]))["type"] == \
        "permission_error"
    for path in ("/key/generate", "/key/update", "/key/delete", "/team/new", "/user/new",
                 "/customer/new", "/key/regenerate", "/key/block"):
        await me.error(403, path, {"key": made[0]["key"]})
    for path in ("/key/list", "/team/list", "/user/list", "/customer/list"):
        await me.error(403, path)
    await admin.as_key("sk-not-a-key-at-all").error(401, "/key/info")


async def test_a_key_of_a_proxy_admin_user_may_manage(admin: Admin) -> None:
    boss = await admin.ok("/user/new", {"user_id": "boss", "user_role": "proxy_admin"})
    made = await admin.as_key(boss["key"]).ok("/key/generate", {"key_alias": "by-boss"})
    assert made["created_by"] == "boss"
    clerk = await admin.ok("/user/new", {"user_id": "clerk"})
    await admin.as_key(clerk["key"]).error(403, "/key/generate", {})
    # Demoted: refused at once (the change dropped the cached user).
    await admin.ok("/user/update", {"user_id": "boss", "user_role": "internal_user"})
    await admin.as_key(boss["key"]).error(403, "/key/generate", {})
