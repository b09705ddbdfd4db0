"""The identity repositories on both backends: the change list, all-or-nothing changes,
and concurrent changes that must not lose one another."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gatewise.db import changes, customers, keys, teams, users
from gatewise.db.database import Database
from gatewise.db.members import Member
from gatewise.db.transactions import Conflict, Invalid, NotFound
from gatewise.db.url import parse_database_url
from gatewise.proxy.access.secrets import digest


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.open(parse_database_url(database_url))
    yield database
    await database.close()


async def test_every_change_is_listed_for_the_poll(db: Database) -> None:
    top, seen = await changes.changes_after(db, -1)
    assert (top, seen) == (0, [])
    await teams.create_team(db, {"team_id": "t"})
    made = await keys.create_key(db, digest("sk-first-key-1"), "sk-...ey-1", {"team_id": "t"})
    await customers.create_customer(db, {"user_id": "c"})
    last, seen = await changes.changes_after(db, top)
    assert seen == [("team", "t"), ("key", made.value.token), ("customer", "c")]
    assert await changes.changes_after(db, last) == (last, [])
    assert (await changes.changes_after(db, -1))[0] == last
    # A change that fails records nothing.
    with pytest.raises(Conflict):
        await teams.create_team(db, {"team_id": "t"})
    with pytest.raises(Invalid):
        await keys.create_key(db, digest("sk-second-key"), "n", {"user_id": "ghost"})
    with pytest.raises(NotFound):
        await teams.delete_teams(db, ["t", "ghost"])
    assert await changes.changes_after(db, last) == (last, [])
    assert (await teams.get_team(db, "t")).team.team_id == "t"


async def test_concurrent_member_adds_lose_none(db: Database) -> None:
    await teams.create_team(db, {"team_id": "t"})
    await asyncio.gather(*(teams.add_members(db, "t", [Member(user_id=f"u{i}")])
                           for i in range(8)))
    team = (await teams.get_team(db, "t")).team
    assert sorted(m["user_id"] for m in team.members) == sorted(f"u{i}" for i in range(8))
    for i in range(8):
        assert (await users.get_user(db, f"u{i}")).user.teams == ("t",)


async def test_concurrent_creations_of_one_alias_admit_one(db: Database) -> None:
    results = await asyncio.gather(
        *(keys.create_key(db, digest(f"sk-concurrent-{i}"), "n", {"key_alias": "same"})
          for i in range(6)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, Conflict) and r.field == "key_alias"
               for r in results if isinstance(r, BaseException))


async def test_a_key_is_found_by_its_token_or_itself_and_stored_by_token_only(
        db: Database) -> None:
    plain = "sk-the-plain-value"
    await keys.create_key(db, digest(plain), "sk-...alue", {})
    assert keys.token_of(plain) == digest(plain) == keys.token_of(digest(plain))
    assert (await keys.get_key(db, plain)).token == digest(plain)
    assert (await keys.get_key(db, digest(plain))).token == digest(plain)
    with pytest.raises(NotFound):
        await keys.get_key(db, digest(digest(plain)))
