"""The team routes, as LiteLLM's: ``/team/new``, ``/team/info``, ``/team/update``,
``/team/block``, ``/team/unblock``, ``/team/delete``, ``/team/list``,
``/team/member_add``, ``/team/member_delete``.  All need an admin."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from gatewise.proxy._asgi import Receive, Scope, Send, respond_json
from gatewise.proxy.errors import bad_request
from gatewise.proxy.routes._answers import key_answer, team_answer, user_answer
from gatewise.proxy.routes._bodies import (
    DeleteTeams,
    Member,
    MemberAdd,
    MemberDelete,
    NewTeam,
    TeamRef,
    UpdateTeam,
)
from gatewise.proxy.routes._fields import Body
from gatewise.proxy.routes._manage import (
    announce,
    body_of,
    check_models,
    database,
    managed,
    query_of,
)
from gatewise.proxy.state import AppState

if TYPE_CHECKING:
    from gatewise.db.members import Member as StoredMember


def team_values(state: AppState, body: Body) -> dict[str, Any]:
    values = body.given("team_id", "members_with_roles")
    if "models" in values:
        values["models"] = check_models(state, values["models"])
    return values


def _members(members: list[Member]) -> list[StoredMember]:
    from gatewise.db.members import Member as StoredMember

    for i, member in enumerate(members):
        if member.user_id is None and member.user_email is None:
            raise bad_request(f"member {i}: give a user_id or a user_email",
                              param="member", code="invalid_field")
    return [StoredMember(m.role, m.user_id, m.user_email) for m in members]


@managed()
async def new_team(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    from gatewise.db import teams

    body = await body_of(NewTeam, state, scope, receive)
    values = {**team_values(state, body), "team_id": body.team_id or str(uuid.uuid4())}
    written = await teams.create_team(database(state), values,
                                      _members(list(body.members_with_roles or ())))
    await announce(state, written.changes)
    await respond_json(send, team_answer(written.value))


@managed()
async def team_info(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    from gatewise.db import teams

    team_id = query_of(scope, ("team_id",)).get("team_id")
    if not team_id:
        raise bad_request("`team_id` is required: /team/info?team_id=<id>", param="team_id",
                          code="invalid_field")
    info = await teams.get_team(database(state), team_id)
    await respond_json(send, {"team_id": team_id, "team_info": team_answer(info.team),
                              "keys": [key_answer(k) for k in info.keys]})


@managed()
async def update_team(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    from gatewise.db import teams

    body = await body_of(UpdateTeam, state, scope, receive)
    written = await teams.update_team(database(state), body.team_id, team_values(state, body))
    await announce(state, written.changes)
    await respond_json(send, {"team_id": body.team_id, "data": team_answer(written.value)})


async def _set_blocked(state: AppState, scope: Scope, receive: Receive, send: Send,
                       blocked: bool) -> None:
    from gatewise.db import teams

    body = await body_of(TeamRef, state, scope, receive)
    written = await teams.update_team(database(state), body.team_id, {"blocked": blocked})
    await announce(state, written.changes)
    await respond_json(send, team_answer(written.value))


@managed()
async def block_team(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await _set_blocked(state, scope, receive, send, True)


@managed()
async def unblock_team(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await _set_blocked(state, scope, receive, send, False)


@managed()
async def delete_teams(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    """Deletes the teams with their keys (a key must not outlive its team's limits)."""
    from gatewise.db import teams

    body = await body_of(DeleteTeams, state, scope, receive)
    written = await teams.delete_teams(database(state), body.team_ids)
    await announce(state, written.changes)
    await respond_json(send, {"deleted_teams": written.value})


@managed()
async def list_teams(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    from gatewise.db import teams

    params = query_of(scope, ("user_id",), ("organization_id",))
    found = await teams.list_teams(database(state), user_id=params.get("user_id") or None)
    await respond_json(send, [team_answer(t) for t in found])


@managed()
async def add_members(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    """``member``: one or a list of ``{"role", "user_id" | "user_email"}``; users that do
    not exist yet are created (as LiteLLM does)."""
    from gatewise.db import teams

    body = await body_of(MemberAdd, state, scope, receive)
    written = await teams.add_members(database(state), body.team_id, _members(body.member))
    await announce(state, written.changes)
    team, users = written.value
    await respond_json(send, {**team_answer(team),
                              "updated_users": [user_answer(u) for u in users]})


@managed()
async def delete_member(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    from gatewise.db import teams

    body = await body_of(MemberDelete, state, scope, receive)
    member = _members([Member(user_id=body.user_id, user_email=body.user_email)])[0]
    written = await teams.remove_member(database(state), body.team_id, member)
    await announce(state, written.changes)
    await respond_json(send, team_answer(written.value))
