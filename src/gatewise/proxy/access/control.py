"""``AccessControl``: the request path's questions about its caller.

1. Who is it (:meth:`identify`, then :meth:`load` on a cache miss)?  The master key, a
   virtual key (with its team and user), or nobody on a proxy without a master key.  An
   unknown, expired or blocked key is a 401.
2. May it call this model (:meth:`check_model`)?  The key's, team's and user's model lists
   all allow it (an empty list allows everything), else a 401 naming what is allowed.
3. What does it count against (:meth:`ticket`)?  The scopes of its key, team, user and end
   user that have limits or a budget, and the request's estimated cost: the router's store
   admits the ticket with the deployment in one step (``gatewise.state``).

Changes (:meth:`changed`) drop cached entries at once in this process; other processes
learn of them from the database's changes table (polled every ``POLL_SECONDS`` by
:meth:`watch`) and, with Redis, by pub/sub.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

from gatewise.proxy._asgi import Scope as AsgiScope
from gatewise.proxy._secret import Secret
from gatewise.proxy.access import errors
from gatewise.proxy.access.cache import Entry, IdentitySource, KeyCache
from gatewise.proxy.access.entities import Customer
from gatewise.proxy.access.estimate import Estimator
from gatewise.proxy.access.identity import MASTER, OPEN, Identity
from gatewise.proxy.access.scopes import FOREVER, scope_for
from gatewise.proxy.access.secrets import digest
from gatewise.router._attempt import estimate_tokens
from gatewise.state.ticket import Scope, Ticket

__all__ = ["AccessControl"]

logger = logging.getLogger("gatewise.proxy")
POLL_SECONDS = 1.0
PRUNE_EVERY = 600  # polls: the changes table is pruned every ten minutes
ALL_MODELS = frozenset({"all-proxy-models", "*"})

Listener = Callable[[str, str], Awaitable[None]]


# Headers that carry the key as it is, without a scheme (Anthropic's, Azure's).
_PLAIN_KEY_HEADERS = frozenset({b"x-api-key", b"api-key"})


def presented_key(scope: AsgiScope) -> bytes:
    """The key the request presents (``b""`` for none, compared all the same: a missing
    key costs the work a wrong one does): a bearer token wins over the scheme-less
    ``x-api-key`` / ``api-key`` headers of Anthropic- and Azure-style clients;
    ``Authorization`` with another scheme presents nothing."""
    found = b""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer":
                return bytes(token.strip())
        elif not found and name in _PLAIN_KEY_HEADERS:
            found = bytes(value.strip())
    return found


class AccessControl:
    def __init__(self, *, master_key: Secret | None, estimator: Estimator,
                 aliases: Mapping[str, str] | None = None, share: int = 1,
                 allow_on_db_unavailable: bool = False) -> None:
        self.master_key = master_key
        self.estimator = estimator
        self.aliases = dict(aliases or {})
        self.share = share
        self.allow_on_db_unavailable = allow_on_db_unavailable
        self.source: IdentitySource | None = None  # set once the database is open
        self.cache = KeyCache()
        self.listeners: list[Listener] = []  # told of every change made here (pub/sub)
        self._last_change = -1

    # -- 1. who ---------------------------------------------------------------------------

    def identify(self, scope: AsgiScope) -> Identity | None:
        """The caller, from memory; None when the key must be loaded (:meth:`load`)."""
        key = presented_key(scope)
        master = self.master_key
        if master is not None and master.is_exactly(key):
            return MASTER
        raw = sha256(key).digest()  # (once: the master key's check and the key's token)
        if master is not None and master.matches_digest(raw):
            return MASTER
        if not key:
            if master is None:
                return OPEN
            raise errors.unauthorized()
        token = raw.hex()
        entry = self.cache.entries.get(token)
        if entry is not None:
            return self._valid(entry)
        if self.source is None or self.cache.missing(token):
            if master is None:
                return OPEN
            raise errors.unauthorized()
        return None

    async def load(self, scope: AsgiScope) -> Identity:
        token = digest(presented_key(scope))
        try:
            entry = await self.cache.once(token, lambda: self._load(token))
        except Exception as exc:  # the database is away: only cached keys work
            logger.warning("cannot look a key up: %s", type(exc).__name__)
            if self.allow_on_db_unavailable:
                return OPEN
            raise errors.db_unavailable() from None
        if entry is None:
            if self.master_key is None:
                return OPEN
            raise errors.unauthorized()
        return self._valid(entry)

    async def _load(self, token: str) -> Entry | None:
        source = self.source
        assert source is not None
        key = await source.key(token)
        if key is None:
            self.cache.remember_missing(token)
            return None
        team = await source.team(key.team_id) if key.team_id else None
        user = await source.user(key.user_id) if key.user_id else None
        entry = _entry(Identity("key", key, team, user))
        self.cache.put(token, entry)
        return entry

    def _valid(self, entry: Entry) -> Identity:
        if entry.refusal is not None:
            raise errors.blocked(entry.refusal)
        expires = entry.expires_at
        if expires is not None and time.time() >= expires:
            key = entry.identity.key
            assert key is not None and key.expires is not None
            raise errors.expired(key.expires, datetime.now(UTC))
        return entry.identity

    # -- 2. which models --------------------------------------------------------------------

    def restricted(self, identity: Identity) -> bool:
        """Whether the caller may call only some models (a key, team or user list)."""
        entry = self._entry_of(identity)
        return entry is not None and entry.allowed is not None

    def allows(self, identity: Identity, name: str) -> bool:
        entry = self._entry_of(identity)
        if entry is None or entry.allowed is None:
            return True
        target = self.aliases.get(name, name)
        if name in entry.allowed or target in entry.allowed:
            return True
        return any(fnmatch.fnmatchcase(n, p) for p in entry.patterns for n in (name, target))

    def _entry_of(self, identity: Identity) -> Entry | None:
        key = identity.key
        return None if key is None else self.cache.entries.get(key.token)

    def check_model(self, identity: Identity, name: str) -> None:
        """A 401 naming what the caller may call, unless it may call ``name``."""
        if identity.key is None or self.allows(identity, name):
            return
        entry = self._entry_of(identity)
        assert entry is not None and entry.allowed is not None
        kind = next((k for k, names in entry.denied.items() if names and name not in names),
                    "key")
        raise errors.model_denied(kind, name, sorted(entry.allowed | set(entry.patterns)))

    # -- 3. what it counts against ----------------------------------------------------------

    async def ticket(self, identity: Identity, group: str, call_id: str, payload: Any,
                     params: Mapping[str, Any]) -> Ticket | None:
        """The request's admission ticket, or None when nothing limits it (``payload``:
        the messages or inputs, whose size estimates the prompt's tokens)."""
        scopes: tuple[Scope, ...] = ()
        if identity.key is not None:
            entry = self.cache.entries.get(identity.key.token)
            if entry is not None:
                if time.time() >= entry.scopes_until:
                    self._make_scopes(entry)
                scopes = entry.scopes
        end_user = params.get("user")
        if type(end_user) is str and end_user and self.source is not None:
            customer = await self._customer(end_user)
            if customer is not None:
                scope, _ = scope_for("end_user", end_user, customer.budget, share=self.share)
                if customer.blocked:
                    raise errors.blocked("end user")
                if scope is not None:
                    scopes = (*scopes, scope)
        if not scopes:
            return None
        prompt_tokens = estimate_tokens(payload)
        return Ticket(call_id, scopes, tokens=prompt_tokens,
                      reserve=self.estimator.reserve(group, prompt_tokens, params))

    def _make_scopes(self, entry: Entry) -> None:
        identity = entry.identity
        made: list[Scope] = []
        until = FOREVER
        for kind, ref, budget in (
                ("key", identity.key.token if identity.key else None,
                 identity.key.budget if identity.key else None),
                ("team", identity.team.team_id if identity.team else None,
                 identity.team.budget if identity.team else None),
                ("user", identity.user.user_id if identity.user else None,
                 identity.user.budget if identity.user else None)):
            if ref is None or budget is None:
                continue
            scope, ends = scope_for(kind, ref, budget, share=self.share)
            if scope is not None:
                made.append(scope)
                until = min(until, ends)
        entry.scopes, entry.scopes_until = tuple(made), until

    async def _customer(self, user_id: str) -> Customer | None:
        known, customer = self.cache.customer(user_id)
        if known:
            return customer
        source = self.source
        assert source is not None
        try:
            customer = await self.cache.once("customer:" + user_id,
                                             lambda: source.customer(user_id))
        except Exception:
            return None  # the database is away: an end user's budget cannot be looked up
        self.cache.put_customer(user_id, customer)
        return customer

    # -- changes --------------------------------------------------------------------------

    async def changed(self, kind: str, ref: str) -> None:
        """An identity changed here: drop it now, and tell the other processes."""
        self.cache.drop(kind, ref)
        for listener in self.listeners:
            with contextlib.suppress(Exception):
                await listener(kind, ref)

    def dropped(self, kind: str, ref: str) -> None:
        """Another process changed an identity (pub/sub, or the changes table)."""
        self.cache.drop(kind, ref)

    async def watch(self) -> None:
        """Poll the database's changes table (runs until cancelled)."""
        failing = False
        polls = 0
        while True:
            source = self.source
            if source is not None:
                try:
                    self._last_change, seen = await source.changes_after(self._last_change)
                    for kind, ref in seen:
                        self.cache.drop(kind, ref)
                    polls += 1
                    if polls % PRUNE_EVERY == 0:  # every process prunes: it is idempotent
                        await source.prune_changes()
                    failing = False
                except Exception as exc:
                    if not failing:
                        logger.warning("cannot read the key changes from the database (%s); "
                                       "retrying", type(exc).__name__)
                    failing = True
            await asyncio.sleep(POLL_SECONDS)


def _entry(identity: Identity) -> Entry:
    key, team, user = identity.key, identity.team, identity.user
    assert key is not None
    lists = {"key": _models(key.models, team.models if team else ()),
             "team": _models(team.models, ()) if team else None,
             "user": _models(user.models, ()) if user else None}
    allowed: set[str] | None = None
    patterns: list[str] = []
    for names in lists.values():
        if names is None:
            continue
        plain = {n for n in names if "*" not in n}
        patterns += [n for n in names if "*" in n]
        allowed = plain if allowed is None else allowed & plain
    refusal = ("key" if key.blocked else "team" if team is not None and team.blocked
               else "user" if user is not None and user.blocked else None)
    return Entry(identity=identity, allowed=None if allowed is None else frozenset(allowed),
                 patterns=tuple(patterns),
                 expires_at=key.expires.timestamp() if key.expires else None, refusal=refusal,
                 denied={k: sorted(v) for k, v in lists.items() if v})


def _models(names: tuple[str, ...], team_models: tuple[str, ...]) -> set[str] | None:
    """A model list as a set; None for "every model" (empty, or all-proxy-models)."""
    if not names or ALL_MODELS & set(names):
        return None
    out = set(names)
    if "all-team-models" in out:
        out.discard("all-team-models")
        if not team_models or ALL_MODELS & set(team_models):
            return None
        out |= set(team_models)
    return out
