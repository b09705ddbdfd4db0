"""What can go wrong with Redis, said without secrets; and the refusal of ``closed`` mode."""

from __future__ import annotations

import hiredis

from gatewise._exceptions import ServiceUnavailableError
from gatewise.state.redis.settings import RedisSettings

__all__ = ["ERRORS", "AuthError", "SharedStateUnavailableError", "describe"]


class AuthError(Exception):
    """Redis refused the credentials (or asked for some): retrying will not help until the
    configuration (or the server's) changes.  The message names the setting, never the
    password."""


ERRORS: tuple[type[BaseException], ...] = (OSError, TimeoutError, EOFError, AuthError,
                                           hiredis.HiredisError)
"""What a round trip to Redis may raise when Redis is away, slow, or not Redis at all
(``ConnectionError`` is an ``OSError``; ``hiredis.ReplyError`` a ``HiredisError``)."""


class SharedStateUnavailableError(ServiceUnavailableError):
    """``redis_failure_mode: closed`` and Redis away: a request with key limits or a budget
    cannot be admitted (503; clients may retry)."""

    def __init__(self, settings: RedisSettings, reason: str | None) -> None:
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"the proxy cannot check this key's limits and budget right now: its shared "
            f"state (Redis at {settings.address}) is unreachable{why} and "
            "router_settings.redis_failure_mode is closed; retry shortly",
            code="shared_state_unavailable", retry_after=1.0)


def auth_error(settings: RedisSettings, reply: str) -> AuthError:
    """Redis's answer to AUTH (or to a command that needed it), as advice (to follow
    "Redis at <address> ")."""
    if reply.startswith("NOAUTH"):
        return AuthError("needs a password: set router_settings.redis_password (or "
                         "REDIS_PASSWORD, or put it in the redis_url)")
    if "without any password configured" in reply or "no password is set" in reply:
        return AuthError(f"has no password, but {settings.password_source} gives one: "
                         "remove it")
    return AuthError(f"refused the password given by {settings.password_source} (wrong "
                     "password, or wrong username)")


def describe(exc: BaseException, settings: RedisSettings) -> str:
    """A short reason for logs and ``/health``: the error's kind, never its arguments
    (which could carry what was sent)."""
    if isinstance(exc, AuthError):
        return str(exc)
    if isinstance(exc, TimeoutError):  # the pipe's says how long; asyncio.timeout's not
        return str(exc) or f"no answer within {settings.connect_timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, hiredis.ReplyError):
        return f"Redis answered with an error: {str(exc)[:200]}"
    if isinstance(exc, hiredis.HiredisError):
        return "the server does not speak Redis's protocol"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    if isinstance(exc, OSError | EOFError):
        return str(exc) or "connection lost"
    return type(exc).__name__
