"""What a call may ask of the router: its own retry budget and timeouts (lower only, when
the router caps them), never where it goes; and checking such settings.

The common call sets none of these: the router sees it with one set operation and builds
its :class:`CallSpec` directly; this is the other way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gatewise._exceptions import BadRequestError
from gatewise.router._attempt import CallSpec, estimate_tokens

if TYPE_CHECKING:
    from gatewise.state.ticket import Ticket

PINNED = frozenset({"api_key", "api_base", "base_url", "custom_llm_provider"})
"""Where a call goes (and with which key) is the deployment's business, never the call's:
a call naming another base URL must not carry a deployment's key there."""
CALL_OPTIONS = frozenset({
    "num_retries", "max_retries", "timeout", "request_timeout", "stream_timeout",
    "fallbacks", "context_window_fallbacks", "content_policy_fallbacks",
})


def seconds(value: Any, name: str, *, per_call: bool = False) -> float | None:
    if value is None:
        return None
    number = getattr(value, "read", value)  # a gatewise.Timeout bounds the whole call too
    if isinstance(number, bool) or not isinstance(number, int | float) or number <= 0:
        message = f"{name} must be a positive number of seconds, got {value!r}"
        raise BadRequestError(message, param=name) if per_call else ValueError(message)
    return float(number)


def count(value: Any, name: str, *, per_call: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        message = f"{name} must be an integer >= 0, got {value!r}"
        raise BadRequestError(message, param=name) if per_call else ValueError(message)
    return value


def pinned_error(params: Mapping[str, Any]) -> BadRequestError:
    """The error for a call setting what only a deployment may (:data:`PINNED`)."""
    pinned = sorted(PINNED.intersection(params))
    return BadRequestError(f"{', '.join(pinned)} cannot be set per call on a router: "
                           "each deployment has its own", param=pinned[0])


def with_options(payload: Any, params: Mapping[str, Any], model: str | None, *,
                 budget: int, capped: bool, counts_tokens: bool,
                 ticket: Ticket | None = None) -> tuple[CallSpec, int]:
    """The spec of a call that sets router options, and its retry budget: the call's own
    ``num_retries``/``max_retries``, at most ``budget`` (the group's) when ``capped``.  Its
    timeouts are capped where the deployment's are known (``Caller``)."""
    retries = params.get("num_retries", params.get("max_retries"))
    if retries is not None:
        asked = count(retries, "num_retries", per_call=True)
        budget = min(asked, budget) if capped else asked
    spec = CallSpec(
        payload=payload, params={k: v for k, v in params.items() if k not in CALL_OPTIONS},
        stream=bool(params.get("stream")),
        timeout=seconds(params.get("timeout", params.get("request_timeout")), "timeout",
                        per_call=True),
        stream_timeout=seconds(params.get("stream_timeout"), "stream_timeout", per_call=True),
        tokens=estimate_tokens(payload) if counts_tokens else 0, model=model, ticket=ticket)
    return spec, budget

