"""The store's one Lua script (``state.lua``), and the arguments and answers of its
operations for admission tickets.

Building the arguments is the only Python work a request does for the shared store: a
scope is seven plain values, a settlement five plus three per scope.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from gatewise.state.counters import WINDOW
from gatewise.state.ticket import (
    BudgetExceededError,
    LimitExceeded,
    RateLimitExceededError,
    Remaining,
)

if TYPE_CHECKING:
    from gatewise.state.ticket import Scope, Ticket

__all__ = ["NOT_HELD", "Arguments", "Script", "admitted", "refusal"]

NONE = b""
"""How an absent limit travels (the script reads '' as nil)."""
NOT_HELD = b""
"""The settlement's ``undo`` when the ticket's parallel count and reservation are not held
in Redis (admitted locally while Redis was away)."""
NO_TICKET = (0, 0, 0, 0)


class Script:
    """``state.lua``: its text and SHA-1, read when a store is made (not at import)."""

    def __init__(self) -> None:
        self.text = files("gatewise.state.redis").joinpath("state.lua").read_bytes()
        self.sha = hashlib.sha1(self.text).hexdigest().encode()


def _encoded(value: float | None) -> bytes:
    return NONE if value is None else repr(value).encode()


class Arguments:
    """The ticket parts of ``acquire`` and ``release``.  Each scope's values are encoded
    once (the access layer reuses a key's ``Scope`` objects from request to request):
    floats cost hiredis several times what bytes do."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self._scopes: dict[int, tuple[Scope, tuple[bytes, ...], tuple[bytes, ...]]] = {}

    def _of(self, scope: Scope) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        known = self._scopes.get(id(scope))
        if known is not None and known[0] is scope:
            return known[1], known[2]
        if len(self._scopes) >= self.LIMIT:
            self._scopes.clear()
        name, period, base = scope.name.encode(), b"%d" % scope.period, _encoded(
            scope.base_spend)
        admit = (name, _encoded(scope.rpm), _encoded(scope.tpm), _encoded(scope.parallel),
                 _encoded(scope.max_budget), period, base)
        settle = (name, period, base)
        self._scopes[id(scope)] = (scope, admit, settle)
        return admit, settle

    def admission(self, ticket: Ticket) -> list[Any]:
        """The ticket part of an ``acquire``: tokens, reserve, scopes, the key scope's
        index, then seven values per scope."""
        scopes = ticket.scopes
        args: list[Any] = [ticket.tokens, ticket.reserve, len(scopes), 0]
        for i, scope in enumerate(scopes, 1):
            if scope.kind == "key":
                args[3] = i
            args += self._of(scope)[0]
        return args

    def settlement(self, ticket: Ticket, undo: bytes | str) -> list[Any]:
        """The arguments that settle ``ticket``: ``undo`` is the incarnation that holds its
        parallel count and reservation (``NOT_HELD``: none here)."""
        used = ticket.used_tokens
        args: list[Any] = [undo, ticket.tokens, ticket.tokens if used is None else used,
                           ticket.reserve, ticket.cost or 0.0, len(ticket.scopes)]
        for scope in ticket.scopes:
            args += self._of(scope)[1]
        return args


def admitted(ticket: Ticket, reply: list[Any]) -> None:
    """Fill in what the tightest scope has left (the script's answer ``[1, requests left,
    tokens left, the key scope's spend]``) and mark the ticket admitted."""
    remaining = ticket.remaining
    requests, tokens, spend = reply[1], reply[2], reply[3]
    if requests is not None:
        remaining.requests = requests
    if tokens is not None:
        remaining.tokens = tokens
    if spend is not None:
        remaining.spend = float(spend)
        for scope in ticket.scopes:
            if scope.kind == "key":
                remaining.max_budget = scope.max_budget
    ticket.admitted = True


def refusal(ticket: Ticket, reply: list[Any], now: float) -> LimitExceeded:
    """The error of a refused admission: ``[2, scope, limit, used, allowed]`` (rate
    limits) or ``[3, scope, spend, reserved]`` (budget)."""
    scope = ticket.scopes[reply[1] - 1]
    if reply[0] == 3:
        return BudgetExceededError(scope, float(reply[2]), float(reply[3]), Remaining())
    limit = reply[2].decode()
    retry = 1.0 if limit == "parallel" else round(WINDOW - now % WINDOW, 3)
    return RateLimitExceededError(scope, limit, reply[3], reply[4], retry, Remaining())
