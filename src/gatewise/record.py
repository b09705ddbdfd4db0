"""``RequestRecord``: what one model call was and what became of it.

The proxy builds one per request (``gatewise.proxy.exchange``) and hands it to every sink
(the spend ledger, Prometheus, traces, the JSON request log); the SDK builds one per call of
a ``Client``, ``AsyncClient`` or ``Router`` that has callbacks (``gatewise.callbacks``).
One flat record, the same fields everywhere; what a field does not apply to stays at its
default.  Times: ``start`` is the wall clock (epoch seconds) at arrival; durations are
seconds.

No field holds a secret: ``key_id`` is the virtual key's digest (the ledger's and the
management API's name for it), never the key.  Message content (``prompt``,
``completion``) is kept only when message logging is on (``callback_settings.otel.
message_logging`` in the proxy, ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
for the SDK's spans); :meth:`RequestRecord.as_dict` leaves it out, with the request's
parameters and the live span.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LOGGED_FIELDS", "RequestRecord"]


@dataclass(slots=True, eq=False)
class RequestRecord:
    call_id: str
    route: str  # chat / embeddings / completions / ...
    start: float
    key_id: str | None = None  # the virtual key's token (digest); None for master/open
    key_alias: str | None = None
    team_id: str | None = None
    team_alias: str | None = None  # the key's team's, as cached with the key
    user_id: str | None = None
    end_user: str | None = None
    model_group: str | None = None  # only a name the proxy serves (bounded: metric labels)
    deployment_id: str | None = None
    model: str | None = None  # the upstream model
    stream: bool = False
    status: int = 0
    error_type: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    usage_estimated: bool = False  # an abandoned or broken stream: counted so far, or guessed
    latency: float = 0.0
    upstream_latency: float | None = None  # waiting for the router's answer (a stream: its
    # first chunk)
    overhead: float | None = None  # the proxy's own time: latency minus upstream time
    ttft: float | None = None
    retries: int = 0
    fallbacks: int = 0
    mock: bool = False
    cached: bool = False
    abandoned: bool = False  # the client left before the end
    response_model: str | None = None  # the model the answer says produced it
    finish_reasons: tuple[str, ...] = ()
    trace_id: str | None = None  # 32 hex digits, when the call is traced
    # Not logged (see as_dict): the request's parameters (a reference, for the GenAI
    # attributes of its span), message content when message logging is on, the live span.
    request_params: Mapping[str, Any] | None = field(default=None, repr=False)
    prompt: Any = field(default=None, repr=False)
    completion: Any = field(default=None, repr=False)
    span: Any = field(default=None, repr=False)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        """The record's logged fields (no message content, no parameters, no span)."""
        return {name: getattr(self, name) for name in LOGGED_FIELDS}


LOGGED_FIELDS: tuple[str, ...] = tuple(
    name for name in RequestRecord.__dataclass_fields__
    if name not in ("request_params", "prompt", "completion", "span"))
