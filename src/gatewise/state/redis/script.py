"""The store's one Lua script (``state.lua``), its operations as the bytes sent to Redis,
and the answers of admissions.

Building the command is the only Python work a request does for the shared store (a key's
scopes are encoded once, the rest is a handful of values).
"""

from __future__ import annotations

import hashlib
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import hiredis

from gatewise.state.counters import WINDOW
from gatewise.state.ticket import (
    BudgetExceededError,
    LimitExceeded,
    RateLimitExceededError,
    Remaining,
)

if TYPE_CHECKING:
    from gatewise.state.ticket import Scope, Ticket

__all__ = ["NOT_HELD", "Commands", "Script", "admitted", "refusal"]

NONE = b""
"""How an absent limit travels (the script reads '' as nil)."""
NOT_HELD = b""
"""The settlement's ``undo`` when the ticket's parallel count and reservation are not held
in Redis (admitted locally while Redis was away)."""


class Script:
    """``state.lua``: its text and SHA-1, read when a store is made (not at import)."""

    def __init__(self) -> None:
        self.text = files("gatewise.state.redis").joinpath("state.lua").read_bytes()
        self.sha = hashlib.sha1(self.text).hexdigest().encode()


def _encoded(value: float | None) -> bytes:
    return NONE if value is None else repr(value).encode()


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


class Commands:
    """The store's operations as the bytes sent to Redis (RESP).

    What does not change from call to call -- ``EVALSHA``, the script, the operation, the
    prefix, and the scopes of a key (the access layer reuses a key's tuple of ``Scope``
    objects from request to request) -- is encoded once; hiredis encodes the few values
    left.  Measured in the proxy, encoding every argument of a call each time (floats
    especially) was the costliest step of a round trip."""

    LIMIT = 10_000

    def __init__(self, sha: bytes, prefix: bytes) -> None:
        self.sha, self.prefix = sha, prefix
        self._heads = {op: b"".join(map(_bulk, (b"EVALSHA", sha, b"0", op, prefix)))
                       for op in (b"acquire", b"release", b"settle")}
        self._scopes: dict[int, tuple[tuple[Scope, ...], bytes, bytes, int]] = {}

    def generic(self, op: bytes, *args: Any) -> bytes:
        packed: bytes = hiredis.pack_command((b"EVALSHA", self.sha, 0, op, self.prefix, *args))
        return packed

    def _command(self, op: bytes, values: tuple[Any, ...], tail: bytes = b"",
                 tail_count: int = 0) -> bytes:
        packed = hiredis.pack_command(values)
        count = len(values)
        skip = 4 if count < 10 else 5  # hiredis's own "*<count>\r\n"
        return b"*%d\r\n%s%s%s" % (5 + count + tail_count, self._heads[op],
                                    memoryview(packed)[skip:], tail)

    def _blocks(self, scopes: tuple[Scope, ...]) -> tuple[bytes, bytes, int]:
        """The scopes encoded for an admission (seven values each) and a settlement
        (three), and the index of the (last) key scope."""
        known = self._scopes.get(id(scopes))
        if known is not None and known[0] is scopes:
            return known[1], known[2], known[3]
        if len(self._scopes) >= self.LIMIT:
            self._scopes.clear()
        admission: list[bytes] = []
        settlement: list[bytes] = []
        key_at = 0
        for i, scope in enumerate(scopes, 1):
            if scope.kind == "key":
                key_at = i
            name, period = scope.name.encode(), b"%d" % scope.period
            base = _encoded(scope.base_spend)
            admission += (name, _encoded(scope.rpm), _encoded(scope.tpm),
                          _encoded(scope.parallel), _encoded(scope.max_budget), period, base)
            settlement += (name, period, base)
        blocks = (b"".join(map(_bulk, admission)), b"".join(map(_bulk, settlement)), key_at)
        self._scopes[id(scopes)] = (scopes, *blocks)
        return blocks

    def acquire(self, now: float, inc: bytes, deployment_id: str, rpm: int | None,
                tpm: int | None, tokens: int, ticket: Ticket | None) -> bytes:
        """``acquire``: the deployment, and the ticket to admit (None: none)."""
        values = (now, inc, deployment_id, NONE if rpm is None else rpm,
                  NONE if tpm is None else tpm, tokens)
        if ticket is None:
            return self._command(b"acquire", (*values, 0, 0, 0, 0))
        scopes = ticket.scopes
        block, _, key_at = self._blocks(scopes)
        return self._command(b"acquire", (*values, ticket.tokens, ticket.reserve, len(scopes),
                                          key_at), block, 7 * len(scopes))

    def release(self, now: float, inc: bytes, deployment_id: str, counted: bool,
                latency: float | None, first_token: bool, tokens: int,
                ticket: Ticket | None, undo: bytes) -> bytes:
        """``release``: the deployment's call, and the ticket to settle with it (None:
        none); ``undo``: the incarnation that holds the ticket's parallel count and
        reservation (``NOT_HELD``: none)."""
        values = (now, inc, deployment_id, 1 if counted else 0,
                  NONE if latency is None else max(0.0, latency),
                  b"1" if first_token else NONE, tokens)
        if ticket is None:
            return self._command(b"release", values)
        return self._settling(b"release", values, ticket, undo)

    def settle(self, now: float, inc: bytes, ticket: Ticket, undo: bytes) -> bytes:
        return self._settling(b"settle", (now, inc), ticket, undo)

    def _settling(self, op: bytes, values: tuple[Any, ...], ticket: Ticket, undo: bytes
                  ) -> bytes:
        scopes = ticket.scopes
        _, block, _ = self._blocks(scopes)
        used = ticket.used_tokens
        return self._command(op, (*values, undo, ticket.tokens,
                                  ticket.tokens if used is None else used, ticket.reserve,
                                  ticket.cost or 0.0, len(scopes)), block, 3 * len(scopes))


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
