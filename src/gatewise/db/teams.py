"""Teams: create, read, update, delete and list them, and their members.

Deleting a team deletes its keys too (as LiteLLM does): a key left without its team would
escape the team's budget and models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gatewise.db import changes
from gatewise.db._identity import fetch, require, stamp, updated
from gatewise.db.database import Database
from gatewise.db.keys import keys_of
from gatewise.db.members import Member, join, leave, member_user
from gatewise.db.rows import team_of, user_of
from gatewise.db.schema import keys, teams, users
from gatewise.db.transactions import Change, Conflict, NotFound, Written, now, reading, writing
from gatewise.proxy.access.entities import Key, Team, User

__all__ = ["TeamInfo", "add_members", "create_team", "delete_teams", "get_team",
           "list_teams", "remove_member", "update_team"]

UNIQUE = ("team_id",)


@dataclass(frozen=True, slots=True)
class TeamInfo:
    team: Team
    keys: list[Key]


async def create_team(database: Database, values: Mapping[str, Any],
                      members: Sequence[Member] = ()) -> Written[Team]:
    async with writing(database, UNIQUE) as connection:
        team_id = values["team_id"]
        if (await fetch(connection, teams, "team_id", team_id)) is not None:
            raise Conflict("team_id", f"team_id {team_id!r} is already taken")
        await connection.execute(teams.insert().values(**stamp({**values, "members": []},
                                                               now())))
        changed: list[Change] = [("team", team_id)]
        team = await fetch(connection, teams, "team_id", team_id)
        for member in members:
            await join(connection, team, await member_user(connection, member, changed),
                       member.role, changed)
        result = team_of(await fetch(connection, teams, "team_id", team_id))
        recorded = await changes.record(connection, changed)
    return Written(result, recorded)


async def get_team(database: Database, team_id: str) -> TeamInfo:
    async with reading(database) as connection:
        row = await require(connection, teams, "team_id", team_id, field="team_id",
                            missing=NotFound)
        return TeamInfo(team_of(row), await keys_of(connection, team_id=team_id))


async def update_team(database: Database, team_id: str, values: Mapping[str, Any]
                      ) -> Written[Team]:
    async with writing(database, UNIQUE) as connection:
        stored = await require(connection, teams, "team_id", team_id, field="team_id",
                               lock=True, missing=NotFound)
        await connection.execute(teams.update().where(teams.c.team_id == team_id)
                                 .values(**updated(values, stored, now())))
        team = team_of(await fetch(connection, teams, "team_id", team_id))
        recorded = await changes.record(connection, [("team", team_id)])
    return Written(team, recorded)


async def delete_teams(database: Database, team_ids: Sequence[str]) -> Written[list[str]]:
    """Delete the teams, their keys and their memberships; all or nothing (a 404 names the
    teams that do not exist)."""
    async with writing(database, UNIQUE) as connection:
        rows = [await fetch(connection, teams, "team_id", t, lock=True) for t in team_ids]
        missing = [t for t, row in zip(team_ids, rows, strict=True) if row is None]
        if missing:
            raise NotFound("team_ids", f"team_ids: no team {', '.join(map(repr, missing))}")
        changed: list[Change] = []
        for row in rows:
            for member in row.members or ():
                await leave(connection, row.team_id, member["user_id"], changed)
        tokens = (await connection.execute(sa.select(keys.c.token).where(
            keys.c.team_id.in_(team_ids)))).scalars().all()
        await connection.execute(keys.delete().where(keys.c.team_id.in_(team_ids)))
        await connection.execute(teams.delete().where(teams.c.team_id.in_(team_ids)))
        changed += [("key", t) for t in tokens] + [("team", t) for t in team_ids]
        recorded = await changes.record(connection, changed)
    return Written(list(dict.fromkeys(team_ids)), recorded)


async def add_members(database: Database, team_id: str, members: Sequence[Member]
                      ) -> Written[tuple[Team, list[User]]]:
    """Add (or change the role of) members; users that do not exist yet are created."""
    async with writing(database, ("user_id",)) as connection:
        team = await require(connection, teams, "team_id", team_id, field="team_id",
                             lock=True, missing=NotFound)
        changed: list[Change] = []
        added: list[str] = []
        for member in members:
            user = await member_user(connection, member, changed)
            await join(connection, team, user, member.role, changed)
            added.append(user.user_id)
        result = team_of(await fetch(connection, teams, "team_id", team_id))
        people = [user_of(await fetch(connection, users, "user_id", u)) for u in added]
        recorded = await changes.record(connection, changed)
    return Written((result, people), recorded)


async def remove_member(database: Database, team_id: str, member: Member) -> Written[Team]:
    async with writing(database) as connection:
        team = await require(connection, teams, "team_id", team_id, field="team_id",
                             lock=True, missing=NotFound)
        user_id = member.user_id or next(
            (m["user_id"] for m in team.members or () if m.get("user_email")
             == member.user_email), None)
        if user_id is None or all(m.get("user_id") != user_id for m in team.members or ()):
            raise NotFound("user_id", f"{'user_id' if member.user_id else 'user_email'}: "
                                      f"not a member of team {team_id!r}")
        changed: list[Change] = []
        await leave(connection, team_id, user_id, changed)
        result = team_of(await fetch(connection, teams, "team_id", team_id))
        recorded = await changes.record(connection, changed)
    return Written(result, recorded)


async def list_teams(database: Database, user_id: str | None = None) -> list[Team]:
    async with reading(database) as connection:
        rows = (await connection.execute(sa.select(teams).order_by(
            teams.c.created_at, teams.c.team_id))).all()
    found = [team_of(row) for row in rows]
    if user_id is not None:
        found = [t for t in found if any(m.get("user_id") == user_id for m in t.members)]
    return found
