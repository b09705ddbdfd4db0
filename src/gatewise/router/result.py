"""What a routed call hands back (for the proxy) and what ``/health`` shows per deployment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from gatewise.router.deployments import Deployment
from gatewise.router.policy import Attempt, attempts_of
from gatewise.router.store import DeploymentStats
from gatewise.router.strategies import availability, recent_latency

R = TypeVar("R")

MODEL_ID_HEADER = "x-gatewise-model-id"
RETRIES_HEADER = "x-gatewise-attempted-retries"
FALLBACKS_HEADER = "x-gatewise-attempted-fallbacks"


def routing_headers(deployment_id: str | None, retries: int, fallbacks: int
                    ) -> dict[str, str]:
    headers = {RETRIES_HEADER: str(retries), FALLBACKS_HEADER: str(fallbacks)}
    if deployment_id is not None:
        headers[MODEL_ID_HEADER] = deployment_id
    return headers


class RouteResult(NamedTuple, Generic[R]):
    """A routed call's answer: the response (a dict, or an ``AsyncStream`` of chunks or of
    SSE bytes), the deployment that served it, in which group, and what it took to get
    there (a tuple: one is made per call)."""

    response: R
    deployment_id: str
    model_group: str
    retries: int
    """Retries made (within groups, all groups together)."""
    fallbacks: int
    """Fallback groups tried."""
    attempts: tuple[Attempt, ...]
    """The failed attempts before the one that served."""

    def headers(self) -> dict[str, str]:
        """The ``x-gatewise-*`` response headers."""
        return routing_headers(self.deployment_id, self.retries, self.fallbacks)


def failure_headers(error: BaseException) -> dict[str, str]:
    """The ``x-gatewise-*`` headers for an error the router raised (empty for others)."""
    if not attempts_of(error):
        return {}
    return routing_headers(None, getattr(error, "attempted_retries", 0),
                           getattr(error, "attempted_fallbacks", 0))


Status = Literal["healthy", "cooling_down", "at_limit"]


@dataclass(frozen=True, slots=True)
class DeploymentHealth:
    """One deployment's state for ``/health``; nothing secret in it."""

    id: str
    model_name: str
    model: str
    api_base: str | None
    status: Status
    cooldown_remaining: float | None
    """Seconds until it is back in rotation (when cooling down)."""
    in_flight: int
    latency: float | None
    """Mean of the recent call latencies, seconds."""
    time_to_first_token: float | None
    requests_this_minute: int
    tokens_this_minute: int
    rpm: int | None
    tpm: int | None
    failures_last_minute: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def health_of(deployments: Sequence[Deployment], stats: Mapping[str, DeploymentStats],
              now: float) -> list[DeploymentHealth]:
    """Each deployment's state, from a snapshot of the store taken at ``now``."""
    out = []
    for d in deployments:
        s = stats[d.id]
        ready, wait = availability([d], stats, now)
        cooling = s.cooldown_until is not None and s.cooldown_until > now
        status: Status = "healthy" if ready else "cooling_down" if cooling else "at_limit"
        out.append(DeploymentHealth(
            id=d.id, model_name=d.model_name, model=d.model, api_base=d.api_base,
            status=status, cooldown_remaining=wait if cooling else None,
            in_flight=s.in_flight, latency=recent_latency(s, stream=False),
            time_to_first_token=recent_latency(s, stream=True) if s.ttfts else None,
            requests_this_minute=s.requests, tokens_this_minute=s.tokens, rpm=d.rpm,
            tpm=d.tpm, failures_last_minute=s.failures))
    return out
