"""The in-process cache of identities: a key (with its team and user) resolved once, then
served from memory until a change drops it.

Misses load from the database (``IdentitySource``) once per key, however many requests
for it arrive together; keys nobody knows are remembered briefly (``MISSING_TTL``) so a
flood of invented keys costs no database round trip each.  Every change to a key, team,
user or end user -- from this process, from another one (the changes table, polled by the
access layer, or Redis pub/sub) -- drops what depends on it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from gatewise.proxy.access.entities import Customer, Key, Team, User
from gatewise.proxy.access.identity import Identity
from gatewise.state.ticket import Scope

__all__ = ["Entry", "IdentitySource", "KeyCache"]

MISSING_TTL = 2.0
"""Seconds an unknown key is remembered as unknown."""
MAX_MISSING = 10_000
MAX_CUSTOMERS = 100_000

T = TypeVar("T")


class IdentitySource(Protocol):
    async def key(self, token: str) -> Key | None: ...
    async def team(self, team_id: str) -> Team | None: ...
    async def user(self, user_id: str) -> User | None: ...
    async def customer(self, user_id: str) -> Customer | None: ...
    async def changes_after(self, last_id: int) -> tuple[int, list[tuple[str, str]]]: ...
    async def prune_changes(self) -> int: ...


@dataclass(slots=True, eq=False)
class Entry:
    """A cached key: its identity, what it may call, and its scopes (made on first use)."""

    identity: Identity
    allowed: frozenset[str] | None  # None: every model
    patterns: tuple[str, ...]  # wildcard entries of the allow-list ("mistral/*")
    expires_at: float | None  # epoch seconds
    refusal: str | None  # "key" / "team" / "user": blocked
    scopes: tuple[Scope, ...] = ()
    scopes_until: float = 0.0  # when a budget period ends: scopes are made again
    denied: dict[str, list[str]] = field(default_factory=dict)


class KeyCache:
    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self._missing: OrderedDict[str, float] = OrderedDict()
        self._customers: OrderedDict[str, Customer | None] = OrderedDict()
        self._by_team: dict[str, set[str]] = {}
        self._by_user: dict[str, set[str]] = {}
        self._loading: dict[str, asyncio.Future[object]] = {}

    def missing(self, token: str) -> bool:
        until = self._missing.get(token)
        if until is None:
            return False
        if until > time.monotonic():
            return True
        del self._missing[token]
        return False

    def remember_missing(self, token: str) -> None:
        self._missing[token] = time.monotonic() + MISSING_TTL
        self._missing.move_to_end(token)
        while len(self._missing) > MAX_MISSING:
            self._missing.popitem(last=False)

    def put(self, token: str, entry: Entry) -> None:
        self.entries[token] = entry
        identity = entry.identity
        if identity.team is not None:
            self._by_team.setdefault(identity.team.team_id, set()).add(token)
        if identity.user is not None:
            self._by_user.setdefault(identity.user.user_id, set()).add(token)

    def customer(self, user_id: str) -> tuple[bool, Customer | None]:
        """(known, the end user's record); known False: not looked up yet."""
        if user_id in self._customers:
            return True, self._customers[user_id]
        return False, None

    def put_customer(self, user_id: str, customer: Customer | None) -> None:
        self._customers[user_id] = customer
        while len(self._customers) > MAX_CUSTOMERS:
            self._customers.popitem(last=False)

    async def once(self, what: str, load: Callable[[], Awaitable[T]]) -> T:
        """Run ``load`` once for ``what`` however many ask at the same time."""
        pending = self._loading.get(what)
        if pending is not None:
            return await pending  # type: ignore[return-value]
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._loading[what] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when none waits
            raise
        else:
            future.set_result(value)
            return value
        finally:
            del self._loading[what]

    def drop(self, kind: str, ref: str) -> None:
        """Forget what depends on the identity ``kind``/``ref`` (a key: its token)."""
        if kind == "key":
            self.entries.pop(ref, None)
            self._missing.pop(ref, None)
        elif kind in ("team", "user"):
            index = self._by_team if kind == "team" else self._by_user
            for token in index.pop(ref, ()):
                self.entries.pop(token, None)
        elif kind == "customer":
            self._customers.pop(ref, None)
        else:  # anything else: start afresh
            self.clear()

    def clear(self) -> None:
        self.entries.clear()
        self._missing.clear()
        self._customers.clear()
        self._by_team.clear()
        self._by_user.clear()
