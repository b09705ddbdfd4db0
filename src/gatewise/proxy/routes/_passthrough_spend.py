"""What a ``/mistral/*`` call counts against, and what it is booked at.

A pass-through call is a request like any other for its caller's limits: a virtual key's
rpm, parallel and budget scopes (its team's, its user's) admit it before it goes to Mistral
and are settled when it ends, at the answer's cost when the answer says what it used (a
JSON answer with a ``model`` the catalogue prices and a ``usage``), else at 0.  Its record
(route ``passthrough``) goes to every sink like a model request's: the spend ledger gets a
row, Prometheus a count.

The store admits tickets with a deployment; a pass-through call has none, so it is taken
under :data:`PASS_THROUGH_ID`, a name with no limits of its own.

A key that may call only some models cannot use the pass-through: what it calls there
(an agent, a batch job) could use any model.
"""

from __future__ import annotations

from typing import Any

import orjson

from gatewise.catalogue import cost_for_usage
from gatewise.proxy._asgi import Scope
from gatewise.proxy.access.identity import identity_of
from gatewise.proxy.errors import ProxyError
from gatewise.proxy.exchange import Exchange
from gatewise.proxy.routes._common import limit_error
from gatewise.proxy.state import AppState
from gatewise.state.ticket import LimitExceeded, Ticket

__all__ = ["PASS_THROUGH_ID", "admit", "book", "priced"]

PASS_THROUGH_ID = "mistral-pass-through"


async def admit(state: AppState, scope: Scope, exchange: Exchange) -> Ticket | None:
    """The caller's admission for a pass-through call (None: nothing limits it); a 401 for
    a key with a model list, a 429 or 400 (budget) when a limit refuses it."""
    identity = identity_of(scope)
    access = state.access
    if access.restricted(identity):
        raise ProxyError(401, "this key may call only some models, and /mistral/* could "
                              "call any: use a key without a model list for the pass-through",
                         type="key_model_access_denied", code="401")
    if identity.key is None:
        return None
    ticket = await access.ticket(identity, "", exchange.record.call_id, "", {})
    if ticket is None:
        return None
    try:
        await state.live.acquire(PASS_THROUGH_ID, state.clock(), rpm=None, tpm=None,
                                 tokens=0, ticket=ticket)
    except LimitExceeded as exc:
        raise limit_error(exc, exchange.call_id) from None
    exchange.ticket = ticket
    return ticket


async def release(state: AppState, ticket: Ticket | None) -> None:
    """The call's end: its admission settled at what :func:`book` found (0 if nothing)."""
    if ticket is not None:
        await state.live.release(PASS_THROUGH_ID, state.clock(), ticket=ticket)


def priced(state: AppState, body: bytes) -> tuple[str, dict[str, Any], float] | None:
    """``(model, usage, cost)`` of a JSON answer naming a model the catalogue prices, with
    a ``usage``; None for any other."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict:
        return None
    model, usage = data.get("model"), data.get("usage")
    if not isinstance(model, str) or not model or not isinstance(usage, dict):
        return None
    info = state.catalogue.get(model if "/" in model else f"mistral/{model}")
    if not info.known:
        return None
    cost = cost_for_usage(info, usage)
    return (model, usage, cost) if cost is not None else None


def book(exchange: Exchange, found: tuple[str, dict[str, Any], float] | None) -> None:
    """What the answer used, onto the record and the admission."""
    if found is None:
        return
    model, usage, cost = found
    record = exchange.record
    record.model = model[:200]
    exchange.used(usage, cost=cost)
    ticket = exchange.ticket
    if ticket is not None:
        ticket.cost = cost
        ticket.used_tokens = record.prompt_tokens + record.completion_tokens
