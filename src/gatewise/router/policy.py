"""What the router does about an error: retry where, count it, bench the deployment, report it.

=============================  ==============  =================  ======================
error                          retry on        counts toward      cooldown
=============================  ==============  =================  ======================
400-class, 422, other 4xx      never           no (the request)   no
401, 403, 404                  another only    --                 at once
429                            another, else   --                 at once (Retry-After)
                               same after wait
5xx, 408, 409, timeout,        another, else   ``allowed_fails``  after allowed_fails
connection error               same after wait                    in a minute
unreadable 2xx body            another only    ``allowed_fails``  after allowed_fails
=============================  ==============  =================  ======================

An attempt whose connection could not even be opened (refused, DNS failure, connect timeout:
``APIConnectionError.unsent``) sent nothing, so it moves on to another deployment of its group
whatever the retry budget says, at most once per deployment; it is counted as a retry.

When every attempt failed, the error raised is the *most telling* one, by this precedence
(first wins; ties go to the latest attempt, except rate limits, where the soonest
``retry_after`` wins):

1. the request itself is wrong (400 family incl. context window and content policy, 422,
   other 4xx): it will fail anywhere, the caller must change it;
2. configuration (401, 403, 404): an operator must act;
3. rate limits (429, or every deployment busy/benched): retry later, ``retry_after`` says when;
4. the upstream broke (5xx, 408, 409);
5. the upstream answered nonsense (unreadable body);
6. the upstream was slow (timeout), then unreachable (connection error).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from gatewise._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)


class Retry(Enum):
    NEVER = "never"
    OTHER = "other"
    """Only on another deployment."""
    ANY = "any"
    """On another deployment, else on the same one after a wait."""


class Cooldown(Enum):
    NONE = "none"
    COUNT = "count"
    """Count toward ``allowed_fails``."""
    NOW = "now"


@dataclass(frozen=True, slots=True)
class ErrorPolicy:
    retry: Retry
    cooldown: Cooldown


_CONFIG = (AuthenticationError, PermissionDeniedError, NotFoundError)


def policy_for(error: APIError) -> ErrorPolicy:
    if isinstance(error, RateLimitError):
        return ErrorPolicy(Retry.ANY, Cooldown.NOW)
    if isinstance(error, _CONFIG):
        return ErrorPolicy(Retry.OTHER, Cooldown.NOW)
    if isinstance(error, APIResponseValidationError):
        return ErrorPolicy(Retry.OTHER, Cooldown.COUNT)
    if isinstance(error, APIConnectionError) or error.retryable:  # 5xx, 408, 409, timeouts
        return ErrorPolicy(Retry.ANY, Cooldown.COUNT)
    if isinstance(error, APIStatusError) and (error.status_code or 0) >= 500:
        return ErrorPolicy(Retry.ANY, Cooldown.COUNT)
    return ErrorPolicy(Retry.NEVER, Cooldown.NONE)


def upstream_wait(error: APIError) -> float | None:
    """The seconds the upstream asked to wait (``retry_after``), if it is a usable number:
    a negative or non-finite one is treated as unsaid (the adapters already read it so; this
    guards the router's waits against any other source of errors)."""
    wait = error.retry_after
    return wait if wait is not None and 0 <= wait < math.inf else None


class Attempt(NamedTuple):
    """One failed try: which deployment (None when none was available) of which group."""

    deployment_id: str | None
    error: APIError
    model_group: str

    def describe(self) -> str:
        where = self.deployment_id or "no deployment available"
        status = f" {self.error.status_code}" if self.error.status_code is not None else ""
        return f"{self.model_group}[{where}]: {type(self.error).__name__}{status}"


def rank(error: APIError) -> int:
    """Lower is more telling (see the module docstring)."""
    if isinstance(error, RateLimitError):
        return 3
    if isinstance(error, _CONFIG):
        return 2
    if isinstance(error, APITimeoutError):
        return 6
    if isinstance(error, APIConnectionError):
        return 7
    if isinstance(error, APIResponseValidationError):
        return 5
    status = error.status_code
    if status is not None and 400 <= status < 500 and not error.retryable:
        return 1
    return 4


def most_telling(attempts: Sequence[Attempt]) -> APIError:
    """The error to raise for a call whose every attempt failed."""
    if not attempts:
        raise ValueError("no attempts to report")
    best = min(rank(a.error) for a in attempts)
    errors = [a.error for a in attempts if rank(a.error) == best]
    if best == 3:
        waits = [(wait, i) for i, e in enumerate(errors)
                 if (wait := upstream_wait(e)) is not None]
        if waits:
            return errors[min(waits)[1]]
    return errors[-1]


_NOTE = "gatewise router:"


def final_error(attempts: Sequence[Attempt], *, retries: int, fallbacks: int) -> APIError:
    """A copy of the most telling error, carrying every attempt (``.attempts``) and the
    counts the proxy reports (``.attempted_retries``, ``.attempted_fallbacks``)."""
    chosen = most_telling(attempts)
    error = copy.copy(chosen)
    error.__traceback__ = None
    error.__notes__ = [n for n in getattr(chosen, "__notes__", ()) if not n.startswith(_NOTE)]
    error.attempts = tuple(attempts)  # type: ignore[attr-defined]
    error.attempted_retries = retries  # type: ignore[attr-defined]
    error.attempted_fallbacks = fallbacks  # type: ignore[attr-defined]
    if len(attempts) > 1:
        lines = "; ".join(a.describe() for a in attempts)
        error.add_note(f"{_NOTE} all {len(attempts)} attempts failed: {lines}")
    return error


def attempts_of(error: BaseException) -> tuple[Attempt, ...]:
    """The attempts a router error carries (empty for any other error)."""
    attempts: tuple[Attempt, ...] = getattr(error, "attempts", ())
    return attempts


def last_tried(error: BaseException) -> str | None:
    """The id of the last deployment a router error's attempts reached (None when none
    did, or for any other error)."""
    for attempt in reversed(attempts_of(error)):
        if attempt.deployment_id is not None:
            return attempt.deployment_id
    return None
