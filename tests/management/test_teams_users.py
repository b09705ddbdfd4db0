"""The team and user routes on both backends: LiteLLM's paths, fields and answers, and
what deleting a team or a user does to their keys and memberships."""

from __future__ import annotations

from tests.management._client import Admin


async def test_team_lifecycle(admin: Admin) -> None:
    team = await admin.ok("/team/new", {
        "team_id": "search", "team_alias": "Search", "models": ["demo"], "max_budget": 50,
        "budget_duration": "1mo", "rpm_limit": 100, "tpm_limit": 50000,
        "members_with_roles": [{"role": "admin", "user_id": "ann"}]})
    assert team["team_id"] == "search" and team["budget_reset_at"] is not None
    assert team["members_with_roles"] == [{"user_id": "ann", "user_email": None,
                                           "role": "admin"}]
    assert ("team", "search") in admin.changed and ("user", "ann") in admin.changed
    key = await admin.ok("/key/generate", {"team_id": "search", "models": ["demo"]})
    info = await admin.ok("/team/info", team_id="search")
    assert info["team_id"] == "search" and info["team_info"]["max_budget"] == 50.0
    assert [k["token"] for k in info["keys"]] == [key["token"]]
    assert "key" not in info["keys"][0]
    updated = await admin.ok("/team/update", {"team_id": "search", "rpm_limit": 10,
                                              "models": ["demo", "embed"]})
    assert updated["team_id"] == "search" and updated["data"]["rpm_limit"] == 10
    assert (await admin.ok("/team/block", {"team_id": "search"}))["blocked"] is True
    assert (await admin.ok("/team/unblock", {"team_id": "search"}))["blocked"] is False
    generated = await admin.ok("/team/new", {})
    assert len(generated["team_id"]) == 36  # a uuid, as LiteLLM makes
    listed = await admin.ok("/team/list")
    assert {t["team_id"] for t in listed} == {"search", generated["team_id"]}
    assert [t["team_id"] for t in await admin.ok("/team/list", user_id="ann")] == ["search"]
    await admin.error(409, "/team/new", {"team_id": "search"})
    await admin.error(404, "/team/info", team_id="nope")
    await admin.error(404, "/team/update", {"team_id": "nope", "rpm_limit": 1})
    assert (await admin.error(400, "/team/info"))["param"] == "team_id"


async def test_members_join_and_leave_on_both_sides(admin: Admin) -> None:
    await admin.ok("/team/new", {"team_id": "t"})
    await admin.ok("/user/new", {"user_id": "bob", "user_email": "bob@example.com",
                                 "auto_create_key": False})
    added = await admin.ok("/team/member_add", {"team_id": "t", "member": [
        {"role": "user", "user_id": "bob"}, {"role": "admin", "user_email": "eve@example.com"}]})
    assert added["members_with_roles"][0]["user_id"] == "bob"
    eve = added["updated_users"][1]
    assert eve["user_email"] == "eve@example.com" and eve["teams"] == ["t"]
    assert eve["user_role"] == "internal_user"  # created, as LiteLLM does
    # One member as an object; adding again changes the role.
    again = await admin.ok("/team/member_add", {"team_id": "t",
                                                "member": {"role": "admin", "user_id": "bob"}})
    roles = {m["user_id"]: m["role"] for m in again["members_with_roles"]}
    assert roles == {"bob": "admin", eve["user_id"]: "admin"}
    assert (await admin.ok("/user/info", user_id="bob"))["user_info"]["teams"] == ["t"]
    left = await admin.ok("/team/member_delete", {"team_id": "t",
                                                  "user_email": "bob@example.com"})
    assert [m["user_id"] for m in left["members_with_roles"]] == [eve["user_id"]]
    assert (await admin.ok("/user/info", user_id="bob"))["user_info"]["teams"] == []
    await admin.error(404, "/team/member_delete", {"team_id": "t", "user_id": "bob"})
    await admin.error(404, "/team/member_add", {"team_id": "nope", "member": {"user_id": "x"}})
    error = await admin.error(400, "/team/member_add", {"team_id": "t", "member": {}})
    assert error["param"] == "member"


async def test_deleting_a_team_deletes_its_keys_and_memberships(admin: Admin) -> None:
    await admin.ok("/team/new", {"team_id": "t", "members_with_roles": [{"user_id": "u"}]})
    team_key = await admin.ok("/key/generate", {"team_id": "t"})
    own_key = await admin.ok("/key/generate", {"user_id": "u"})
    admin.changed.clear()
    error = await admin.error(404, "/team/delete", {"team_ids": ["t", "ghost"]})
    assert "ghost" in error["message"]
    assert await admin.ok("/team/delete", {"team_ids": ["t"]}) == {"deleted_teams": ["t"]}
    assert set(admin.changed) == {("team", "t"), ("user", "u"), ("key", team_key["token"])}
    await admin.error(404, "/key/info", key=team_key["key"])
    await admin.ok("/key/info", key=own_key["key"])
    assert (await admin.ok("/user/info", user_id="u"))["user_info"]["teams"] == []


async def test_user_lifecycle(admin: Admin) -> None:
    await admin.ok("/team/new", {"team_id": "t"})
    user = await admin.ok("/user/new", {
        "user_id": "ann", "user_email": "ann@example.com", "user_role": "proxy_admin",
        "max_budget": 20, "budget_duration": "30d", "models": ["demo"], "rpm_limit": 30,
        "teams": ["t"], "key_alias": "ann-laptop", "duration": "30d"})
    assert user["user_id"] == "ann" and user["user_role"] == "proxy_admin"
    assert user["key"].startswith("sk-") and user["key_alias"] == "ann-laptop"
    assert user["teams"] == ["t"] and user["budget_reset_at"] is not None
    assert user["expires"] is not None
    info = await admin.ok("/user/info", user_id="ann")
    assert info["user_info"]["max_budget"] == 20.0
    assert [k["token"] for k in info["keys"]] == [user["token"]]
    assert [t["team_id"] for t in info["teams"]] == ["t"]
    keyless = await admin.ok("/user/new", {"auto_create_key": False})
    assert keyless["key"] is None and len(keyless["user_id"]) == 36
    assert keyless["user_role"] == "internal_user"
    updated = await admin.ok("/user/update", {"user_id": "ann", "user_role": "internal_user",
                                              "tpm_limit": 1000})
    assert updated["user_id"] == "ann" and updated["data"]["tpm_limit"] == 1000
    by_email = await admin.ok("/user/update", {"user_email": "ann@example.com",
                                               "max_budget": 5})
    assert by_email["data"]["max_budget"] == 5.0
    page = await admin.ok("/user/list", page_size=1)
    assert page["total"] == 2 and page["total_pages"] == 2 and len(page["users"]) == 1
    assert (await admin.ok("/user/list", role="internal_user"))["total"] == 2
    assert (await admin.ok("/user/list", user_ids="ann,zed"))["total"] == 1
    await admin.error(409, "/user/new", {"user_id": "ann"})
    await admin.error(404, "/user/info", user_id="nobody")
    await admin.error(404, "/user/update", {"user_email": "x@example.com", "rpm_limit": 1})
    admin.changed.clear()
    assert await admin.ok("/user/delete", {"user_ids": ["ann"]}) == {"deleted_users": ["ann"]}
    assert set(admin.changed) == {("user", "ann"), ("team", "t"), ("key", user["token"])}
    await admin.error(404, "/key/info", key=user["key"])
    assert (await admin.ok("/team/info", team_id="t"))["team_info"]["members_with_roles"] == []
    await admin.error(404, "/user/delete", {"user_ids": ["ann"]})


async def test_customers_under_both_names(admin: Admin) -> None:
    for prefix in ("/customer", "/end_user"):
        made = await admin.ok(f"{prefix}/new", {"user_id": f"{prefix}-1", "max_budget": 2,
                                                "budget_duration": "1d", "alias": "Acme"})
        assert made["user_id"] == f"{prefix}-1" and made["max_budget"] == 2.0
        assert made["litellm_budget_table"]["max_budget"] == 2.0
        assert made["budget_reset_at"] is not None
        assert ("customer", f"{prefix}-1") in admin.changed
        info = await admin.ok(f"{prefix}/info", end_user_id=f"{prefix}-1")
        assert info["alias"] == "Acme"
        updated = await admin.ok(f"{prefix}/update", {"user_id": f"{prefix}-1",
                                                      "rpm_limit": 3})
        assert updated["rpm_limit"] == 3 and updated["max_budget"] == 2.0
        blocked = await admin.ok(f"{prefix}/block", {"user_ids": [f"{prefix}-1"]})
        assert [c["user_id"] for c in blocked["blocked_users"]] == [f"{prefix}-1"]
        assert blocked["blocked_users"][0]["blocked"] is True
        assert (await admin.ok(f"{prefix}/info", user_id=f"{prefix}-1"))["blocked"] is True
        await admin.ok(f"{prefix}/unblock", {"user_ids": [f"{prefix}-1"]})
        await admin.error(409, f"{prefix}/new", {"user_id": f"{prefix}-1"})
        await admin.error(404, f"{prefix}/info", end_user_id="ghost")
        await admin.error(404, f"{prefix}/update", {"user_id": "ghost", "rpm_limit": 1})
    assert [c["user_id"] for c in await admin.ok("/customer/list")] == [
        "/customer-1", "/end_user-1"]
    deleted = await admin.ok("/end_user/delete", {"user_ids": ["/customer-1"]})
    assert deleted["deleted_customers"] == 1 and "/customer-1" in deleted["message"]
    await admin.error(404, "/customer/delete", {"user_ids": ["/customer-1"]})
    plain = await admin.ok("/customer/new", {"user_id": "plain"})
    assert plain["litellm_budget_table"] is None and plain["max_budget"] is None
