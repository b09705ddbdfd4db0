"""The metric families, all named ``gatewise_*``, in a registry of the proxy's own (never
prometheus_client's global one).

Labels are bounded: ``model_group`` is a name the proxy serves (else ``""``), ``route`` one
of its model routes, ``deployment`` a configured deployment's id, ``error_type`` /
``outcome`` one of the proxy's error types or exception class names, ``key_alias``,
``team`` (its id) and ``team_alias`` what the operator created.  Nothing a client sends
becomes a label value by itself (an end user, a model name no deployment serves).

With several workers (prometheus_client's multiprocess mode, see ``exposition``) every
counter and histogram is summed over the workers, and so are the gauges (``livesum``):
requests in flight, the remaining rpm/tpm and budget of each worker's share, and for a
deployment's state, the number of workers that see it so -- unless the live state is
shared (Redis): then every worker reads the same, and the state gauges show it once.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["DURATION_BUCKETS", "OVERHEAD_BUCKETS", "Metrics"]

DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Seconds: a mocked answer's half millisecond to a long completion's minutes."""
OVERHEAD_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01,
                    0.025, 0.05, 0.1, 0.25, 1.0)
"""Seconds of the proxy's own time: tens of microseconds up."""

REQUEST = ("model_group", "route")
SPEND = ("model_group", "key_alias", "team", "team_alias")
DEPLOYMENT = ("model_group", "deployment")


class Metrics:
    """``shared``: the live state is one store every process shares (Redis): with several
    workers, the state each reads is the same, so the state gauges show it once (the
    largest worker's value) rather than summed."""

    def __init__(self, registry: CollectorRegistry | None = None, *, shared: bool = False
                 ) -> None:
        self.registry = r = registry if registry is not None else CollectorRegistry()
        state: Any = "livemax" if shared else "livesum"  # each worker's share, or all
        # -- per request (the sink) ---------------------------------------------------------
        self.requests = Counter(
            "gatewise_requests", "Model requests answered, failed or abandoned, by status "
            "class (2xx, 4xx, 5xx)", (*REQUEST, "status_class"), registry=r)
        self.failures = Counter(
            "gatewise_request_failures", "Model requests that did not succeed, by error type "
            "(client_disconnected: the client left before the end)",
            (*REQUEST, "status_class", "error_type"), registry=r)
        self.latency = Histogram(
            "gatewise_request_duration_seconds", "Time from a request's arrival to its end "
            "(a stream: its last event)", REQUEST, buckets=DURATION_BUCKETS, registry=r)
        self.upstream = Histogram(
            "gatewise_upstream_duration_seconds", "Time waiting for the router's answer "
            "(retries and fallbacks included; a stream: its first chunk)", REQUEST,
            buckets=DURATION_BUCKETS, registry=r)
        self.overhead = Histogram(
            "gatewise_proxy_overhead_seconds", "The proxy's own time in a served request: "
            "its duration less the upstream's", REQUEST, buckets=OVERHEAD_BUCKETS,
            registry=r)
        self.ttft = Histogram(
            "gatewise_time_to_first_token_seconds", "Time from a streamed request's arrival "
            "to its first chunk", ("model_group",), buckets=DURATION_BUCKETS, registry=r)
        self.input_tokens = Counter(
            "gatewise_input_tokens", "Prompt tokens", SPEND, registry=r)
        self.output_tokens = Counter(
            "gatewise_output_tokens", "Completion tokens (reasoning included)", SPEND,
            registry=r)
        self.reasoning_tokens = Counter(
            "gatewise_reasoning_tokens", "Reasoning tokens (part of the output tokens)",
            SPEND, registry=r)
        self.spend = Counter(
            "gatewise_spend_usd", "What the requests cost, in USD", SPEND, registry=r)
        self.retries = Counter(
            "gatewise_retries", "Retries the router made for the requests", ("model_group",),
            registry=r)
        self.fallbacks = Counter(
            "gatewise_fallbacks", "Fallback groups the router tried for the requests",
            ("model_group",), registry=r)
        self.in_flight = Gauge(
            "gatewise_in_flight_requests", "Model requests being served", ("route",),
            registry=r, multiprocess_mode="livesum")
        # -- per attempt and cooldown (the router's observer) -------------------------------
        self.attempts = Counter(
            "gatewise_deployment_attempts", "Calls to a deployment, by outcome (success, or "
            "the error's class)", (*DEPLOYMENT, "outcome"), registry=r)
        self.cooldowns = Counter(
            "gatewise_deployment_cooldowns", "Times the router benched a deployment",
            DEPLOYMENT, registry=r)
        # -- read at scrape time (state.py) -------------------------------------------------
        self.deployment_state = Gauge(
            "gatewise_deployment_state", "1 for a deployment's state (healthy, cooling_down, "
            "at_limit, unavailable); with several workers on local state, how many see it so",
            (*DEPLOYMENT, "state"), registry=r, multiprocess_mode=state)
        self.cooldown_remaining = Gauge(
            "gatewise_deployment_cooldown_remaining_seconds", "Seconds until a benched "
            "deployment is back in rotation", DEPLOYMENT, registry=r,
            multiprocess_mode="livemax")
        self.deployment_in_flight = Gauge(
            "gatewise_deployment_in_flight", "Calls in flight on a deployment", DEPLOYMENT,
            registry=r, multiprocess_mode=state)
        self.remaining_requests = Gauge(
            "gatewise_deployment_remaining_requests", "Requests a deployment with an rpm "
            "limit may still take this minute", DEPLOYMENT, registry=r,
            multiprocess_mode=state)
        self.remaining_tokens = Gauge(
            "gatewise_deployment_remaining_tokens", "Tokens a deployment with a tpm limit "
            "may still take this minute", DEPLOYMENT, registry=r, multiprocess_mode=state)
        self.key_budget = Gauge(
            "gatewise_key_remaining_budget_usd", "What a virtual key with a budget may still "
            "spend this period (keys used since the proxy started)", ("key", "key_alias"),
            registry=r, multiprocess_mode=state)
        self.team_budget = Gauge(
            "gatewise_team_remaining_budget_usd", "What a team with a budget may still spend "
            "this period", ("team", "team_alias"), registry=r, multiprocess_mode=state)
        self.ledger_queue = Gauge(
            "gatewise_ledger_queue_depth", "Spend rows waiting to be written", registry=r,
            multiprocess_mode="livesum")
        self.ledger_rows = Counter(
            "gatewise_ledger_rows", "Spend rows by what became of them (written, "
            "duplicate, dropped, rejected)", ("outcome",), registry=r)
        self.ledger_failures = Counter(
            "gatewise_ledger_write_failures", "Ledger batches that failed and were retried",
            registry=r)
        self.sink_errors = Counter(
            "gatewise_sink_errors", "Records a sink failed on (logged)", registry=r)
        self.log_dropped = Counter(
            "gatewise_request_log_dropped", "Request log lines dropped (its queue was full)",
            registry=r)
        self.store_latency: Gauge | None = None  # made with the shared store's figures
        self.store_errors: Counter | None = None
        self.store_up: Gauge | None = None

    def shared_store(self) -> None:
        """The shared store's metrics (made the first time it has figures to show)."""
        if self.store_up is not None:
            return
        r = self.registry
        self.store_latency = Gauge(
            "gatewise_shared_state_latency_seconds", "The shared store's last round trip",
            registry=r, multiprocess_mode="livemax")
        self.store_errors = Counter(
            "gatewise_shared_state_errors", "Shared-store round trips that failed or timed out",
            registry=r)
        self.store_up = Gauge(
            "gatewise_shared_state_up", "1 while the shared store is reachable",
            registry=r, multiprocess_mode="livemin")
