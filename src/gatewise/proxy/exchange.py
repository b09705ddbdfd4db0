"""``Exchange``: one model request on its way through the proxy, and its one record.

The app opens an exchange for every model route once the caller is known, hands it to the
handler (``scope[EXCHANGE]``), and closes it however the request ended -- answered, refused,
failed, abandoned by the client, cut by shutdown: :meth:`finish` settles the admission
ticket if the router has not (a failed call costs nothing; an abandoned stream what it
used so far, estimated) and hands the finished :class:`RequestRecord` to every sink.  The
handlers only say what happened (:meth:`served`, :meth:`used`); nothing else in them knows
about ledgers, metrics or traces.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from gatewise.proxy._asgi import header_pairs
from gatewise.proxy.access.identity import Identity
from gatewise.proxy.record import RequestRecord
from gatewise.router.policy import attempts_of, last_tried

if TYPE_CHECKING:
    from gatewise.proxy.deployments import Deployment
    from gatewise.proxy.state import AppState
    from gatewise.router.result import RouteResult
    from gatewise.state.ticket import Ticket

__all__ = ["EXCHANGE", "Exchange", "exchange_of"]

EXCHANGE = "gatewise.exchange"
logger = logging.getLogger("gatewise.proxy")


class Exchange:
    __slots__ = ("call_id", "deployment", "key", "record", "started", "state", "ticket",
                 "upstream")

    def __init__(self, state: AppState, route: str, identity: Identity, call_id: bytes,
                 headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
        self.state = state
        self.call_id = call_id
        self.started = time.perf_counter()
        self.ticket: Ticket | None = None
        self.deployment: Deployment | None = None
        self.upstream = 0.0
        record = self.record = RequestRecord(call_id.decode(), route, time.time())
        key = self.key = identity.key
        if key is not None:
            record.key_id, record.key_alias = key.token, key.key_alias
            record.team_id, record.user_id = key.team_id, key.user_id
            team = identity.team
            if team is not None:
                record.team_alias = team.team_alias
        sinks = state.sinks
        if sinks.openers:  # told of the start (in flight, the request's span: ``headers``)
            sinks.start(record, headers)

    # -- what the handler says --------------------------------------------------------------

    def served(self, result: RouteResult[Any], deployment: Deployment, upstream: float) -> None:
        """The router's answer: who served, what it took."""
        self.deployment = deployment
        self.upstream = upstream
        record = self.record
        record.deployment_id = deployment.id
        record.model = deployment.model
        record.retries, record.fallbacks = result.retries, result.fallbacks
        record.upstream_latency = upstream
        record.mock = deployment.is_mock
        if self.state.sinks.details:  # a sink wants what the answer says (traces)
            describe_answer(record, result.response)

    def used(self, usage: Any, *, estimated: bool = False, cost: float | None = None
             ) -> None:
        """The answer's usage (OpenAI's shape): tokens and cost (``cost``: priced by the
        route itself, e.g. pages of OCR)."""
        record = self.record
        record.usage_estimated = estimated
        if cost is not None:
            record.cost = cost
        if not isinstance(usage, dict):
            return
        record.prompt_tokens = _count(usage.get("prompt_tokens"))
        record.completion_tokens = _count(usage.get("completion_tokens"))
        details = usage.get("completion_tokens_details")
        if isinstance(details, dict):
            record.reasoning_tokens = _count(details.get("reasoning_tokens"))
        ticket = self.ticket
        if cost is not None:
            pass
        elif ticket is not None and ticket.settled and ticket.cost is not None:
            record.cost = ticket.cost
        elif self.deployment is not None:
            record.cost = self.deployment.cost(usage) or 0.0

    def key_headers(self) -> list[tuple[bytes, bytes]]:
        """:meth:`key_lines` as a list of headers."""
        return header_pairs(self.key_lines())

    def key_lines(self) -> bytes:
        """``x-gatewise-key-spend`` / ``-max-budget`` and ``x-ratelimit-*`` for a key with
        a budget or limits: ``limit-*`` is the smallest rpm (tpm) over the key's scopes (its
        own, its team's, its user's), ``remaining-*`` what the tightest of them has left;
        LiteLLM's ``x-litellm-key-spend`` / ``-max-budget`` for any virtual key (all known at
        admission: nothing is read for them).  As the lines of a head (``name: value`` and
        CRLF each: ``_asgi.Direct.respond_lines``)."""
        lines = self._litellm_key_lines() if self.key is not None else b""
        ticket = self.ticket
        if ticket is None or not ticket.admitted:
            return lines
        remaining = ticket.remaining
        if remaining.max_budget is not None and remaining.spend is not None:
            spend = remaining.spend + (ticket.cost or 0.0)
            lines += b"x-gatewise-key-spend: %b\r\nx-gatewise-key-max-budget: %b\r\n" % (
                _money(spend), _budget(remaining.max_budget))
        requests, tokens = remaining.requests, remaining.tokens
        if requests is None and tokens is None:
            return lines
        rpm = tpm = None  # the smallest over the scopes (a loop: a comprehension is a call)
        for scope in ticket.scopes:
            if scope.rpm is not None and (rpm is None or scope.rpm < rpm):
                rpm = scope.rpm
            if scope.tpm is not None and (tpm is None or scope.tpm < tpm):
                tpm = scope.tpm
        if requests is not None:
            if rpm is not None:
                lines += b"x-ratelimit-limit-requests: %d\r\n" % rpm
            lines += b"x-ratelimit-remaining-requests: %d\r\n" % max(0, requests)
        if tokens is not None:
            if tpm is not None:
                lines += b"x-ratelimit-limit-tokens: %d\r\n" % tpm
            lines += b"x-ratelimit-remaining-tokens: %d\r\n" % tokens
        return lines

    def _litellm_key_lines(self) -> bytes:
        """The key's spend before this request (as LiteLLM's header says it): the live one
        its admission saw when it has a budget or limits, else the one cached with it."""
        key = self.key
        assert key is not None
        ticket = self.ticket
        spend = (ticket.remaining.spend if ticket is not None and ticket.admitted else None)
        if spend is None:
            spend = key.budget.spend
        else:  # a worker's share of the key's limits (--workers N, no Redis): its total
            spend *= self.state.access.share
        lines = b"x-litellm-key-spend: %b\r\n" % _money(spend)
        if key.budget.max_budget is not None:
            lines += b"x-litellm-key-max-budget: %b\r\n" % _budget(key.budget.max_budget)
        return lines

    # -- the end ----------------------------------------------------------------------------

    def failed(self, status: int, error_type: str | None,
               cause: BaseException | None = None) -> None:
        """The request failed; ``cause``: the router's error, whose attempts say what was
        tried (retries, fallbacks, the last deployment) when nothing served."""
        record = self.record
        record.status = status
        record.error_type = error_type
        if cause is not None and record.deployment_id is None and attempts_of(cause):
            record.retries = getattr(cause, "attempted_retries", 0)
            record.fallbacks = getattr(cause, "attempted_fallbacks", 0)
            last = last_tried(cause)
            deployment = self.state.by_id.get(last) if last is not None else None
            if deployment is not None:
                record.deployment_id, record.model = deployment.id, deployment.model
                record.mock = deployment.is_mock

    def abandoned(self) -> None:
        self.record.abandoned = True
        if not self.record.status:
            self.record.status = 499  # nginx's "client closed request"
            self.record.error_type = "client_disconnected"

    async def finish(self) -> None:
        """Settle what the router left unsettled, finish the record, hand it to the sinks."""
        if self.unsettled:
            await self.settle()
        self.close()

    @property
    def unsettled(self) -> bool:
        """Whether an admission is left for :meth:`settle` (a call that failed, a stream
        cut short); the router has settled every other."""
        ticket = self.ticket
        return ticket is not None and ticket.admitted and not ticket.settled

    async def settle(self) -> None:
        ticket = self.ticket
        if ticket is None:
            return
        try:
            await self.state.live.settle(ticket, self.state.clock())
        except Exception:
            logger.exception("call %s: could not settle its admission", self.record.call_id)

    def close(self) -> None:
        """Finish the record and hand it to the sinks (after :meth:`settle`, if due)."""
        record = self.record
        end = time.perf_counter()
        record.latency = end - self.started
        if record.upstream_latency is not None:
            record.overhead = max(0.0, record.latency - self.upstream)
        self.state.sinks.emit(record)


def describe_answer(record: RequestRecord, response: Any) -> None:
    """The answer's own model and finish reasons (and its messages, when the record keeps
    content): for a JSON answer; a relayed stream's bytes are not decoded for them."""
    if type(response) is not dict:
        return
    model = response.get("model")
    if type(model) is str:
        record.response_model = model
    choices = response.get("choices")
    if type(choices) is list:
        record.finish_reasons = tuple(
            c["finish_reason"] for c in choices
            if type(c) is dict and type(c.get("finish_reason")) is str)
        if record.prompt is not None:  # message logging is on
            record.completion = [c.get("message", c.get("text")) for c in choices
                                 if type(c) is dict]


def exchange_of(scope: MutableMapping[str, Any]) -> Exchange:
    exchange: Exchange = scope[EXCHANGE]
    return exchange


def _count(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


def _money(value: float) -> bytes:
    return (b"%.10f" % value).rstrip(b"0").rstrip(b".") or b"0"


_budget = functools.lru_cache(maxsize=1024)(_money)
"""A budget, as :func:`_money` writes it: the same few values, on every request."""
