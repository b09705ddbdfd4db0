"""What the management API changes takes effect on the request path at once, in this
process (the access layer is told of each change): blocked, unblocked, regenerated,
deleted, restricted keys; teams, users and end users."""

from __future__ import annotations

from tests.management._client import Admin


async def test_key_changes_take_effect_at_once(admin: Admin) -> None:
    made = await admin.ok("/key/generate", {"models": ["demo"]})
    key = admin.as_key(made["key"])
    assert (await key.chat()).status == 200
    denied = await key.post("/v1/embeddings", {"model": "embed", "input": "x"})
    assert denied.status == 401 and "demo" in denied.error()["message"]
    await admin.ok("/key/block", {"key": made["token"]})
    assert (await key.chat()).status == 401
    await admin.ok("/key/unblock", {"key": made["token"]})
    assert (await key.chat()).status == 200
    await admin.ok("/key/update", {"key": made["key"], "models": ["embed"]})
    assert (await key.chat()).status == 401
    await admin.ok("/key/update", {"key": made["key"], "models": [], "rpm_limit": 1})
    assert (await key.chat()).status == 200
    limited = await key.chat()
    assert limited.status == 429 and "retry-after" in limited.headers
    fresh = await admin.ok("/key/regenerate", {"key": made["key"], "rpm_limit": None})
    assert (await key.chat()).status == 401
    renewed = admin.as_key(fresh["key"])
    assert (await renewed.chat()).status == 200
    await admin.ok("/key/delete", {"keys": [fresh["key"]]})
    assert (await renewed.chat()).status == 401


async def test_team_user_and_end_user_changes_take_effect_at_once(admin: Admin) -> None:
    await admin.ok("/team/new", {"team_id": "t"})
    user = await admin.ok("/user/new", {"user_id": "u", "teams": ["t"]})
    team_key = admin.as_key((await admin.ok("/key/generate", {"team_id": "t"}))["key"])
    user_key = admin.as_key(user["key"])
    assert (await team_key.chat()).status == 200 and (await user_key.chat()).status == 200
    await admin.ok("/team/update", {"team_id": "t", "models": ["embed"]})
    assert (await team_key.chat()).status == 401
    await admin.ok("/team/update", {"team_id": "t", "models": []})
    await admin.ok("/team/block", {"team_id": "t"})
    assert (await team_key.chat()).status == 401
    await admin.ok("/user/update", {"user_id": "u", "blocked": True})
    assert (await user_key.chat()).status == 401
    await admin.ok("/user/update", {"user_id": "u", "blocked": False})
    assert (await user_key.chat()).status == 200
    # An end user (the request's `user` field), blocked and unblocked.
    await admin.ok("/customer/new", {"user_id": "acme"})
    body = {"model": "demo", "messages": [{"role": "user", "content": "hi"}], "user": "acme"}
    assert (await user_key.post("/v1/chat/completions", body)).status == 200
    await admin.ok("/customer/block", {"user_ids": ["acme"]})
    assert (await user_key.post("/v1/chat/completions", body)).status >= 400
    await admin.ok("/customer/unblock", {"user_ids": ["acme"]})
    assert (await user_key.post("/v1/chat/completions", body)).status == 200
    await admin.ok("/team/delete", {"team_ids": ["t"]})
    assert (await team_key.chat()).status == 401
    await admin.ok("/user/delete", {"user_ids": ["u"]})
    assert (await user_key.chat()).status == 401
