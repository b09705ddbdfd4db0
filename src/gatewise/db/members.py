"""Team membership, kept on both sides: the team's ``members`` (``{"user_id",
"user_email", "role"}``) and the user's ``teams`` (team ids), changed together in the
caller's transaction.  A member named by a user id or an email that no user has yet is
created (as LiteLLM's ``/team/member_add`` does), with the role ``internal_user``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gatewise.db._identity import fetch, stamp
from gatewise.db.schema import teams, users
from gatewise.db.transactions import Change, Invalid, now

__all__ = ["Member", "join", "leave", "member_user"]


@dataclass(frozen=True, slots=True)
class Member:
    role: str = "user"  # admin / user
    user_id: str | None = None
    user_email: str | None = None


async def member_user(connection: AsyncConnection, member: Member, changed: list[Change]
                      ) -> Any:
    """The member's user row, created if no user has its id (or, given only an email, that
    email)."""
    row = None
    if member.user_id is not None:
        row = await fetch(connection, users, "user_id", member.user_id, lock=True)
    elif member.user_email is not None:
        row = (await connection.execute(sa.select(users).where(
            users.c.user_email == member.user_email).order_by(users.c.created_at)
            .limit(1))).first()
    else:
        raise Invalid("member", "member: give a user_id or a user_email")
    if row is not None:
        return row
    user_id = member.user_id or str(uuid.uuid4())
    await connection.execute(users.insert().values(**stamp(
        {"user_id": user_id, "user_email": member.user_email, "user_role": "internal_user",
         "teams": []}, now())))
    changed.append(("user", user_id))
    return await fetch(connection, users, "user_id", user_id)


async def join(connection: AsyncConnection, team: Any, user: Any, role: str,
               changed: list[Change]) -> None:
    """Make ``user`` a member of ``team`` with ``role`` (updating the role of a member)."""
    members = [m for m in await _members(connection, team.team_id)
               if m.get("user_id") != user.user_id]
    members.append({"user_id": user.user_id, "user_email": user.user_email, "role": role})
    at = now()
    await connection.execute(teams.update().where(teams.c.team_id == team.team_id)
                             .values(members=members, updated_at=at))
    user_teams = list(user.teams or ())
    if team.team_id not in user_teams:
        await connection.execute(users.update().where(users.c.user_id == user.user_id)
                                 .values(teams=[*user_teams, team.team_id], updated_at=at))
    changed += [("team", team.team_id), ("user", user.user_id)]


async def leave(connection: AsyncConnection, team_id: str, user_id: str,
                changed: list[Change]) -> None:
    """Take ``user_id`` out of ``team_id`` on both sides (either may be gone already)."""
    at = now()
    members = await _members(connection, team_id)
    if any(m.get("user_id") == user_id for m in members):
        await connection.execute(teams.update().where(teams.c.team_id == team_id).values(
            members=[m for m in members if m.get("user_id") != user_id], updated_at=at))
        changed.append(("team", team_id))
    user = await fetch(connection, users, "user_id", user_id, lock=True)
    if user is not None and team_id in (user.teams or ()):
        await connection.execute(users.update().where(users.c.user_id == user_id).values(
            teams=[t for t in user.teams if t != team_id], updated_at=at))
        changed.append(("user", user_id))


async def _members(connection: AsyncConnection, team_id: str) -> list[dict[str, Any]]:
    row = await fetch(connection, teams, "team_id", team_id, lock=True)
    return list(row.members or ()) if row is not None else []
