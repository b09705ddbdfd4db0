"""OpenAI's error JSON, ``{"error": {"message", "type", "param", "code"}}``, for everything.

``ProxyError`` is raised by the proxy's own checks; ``from_api_error`` maps the SDK's errors
once, by their ``status_code`` / ``openai_type`` / ``param`` / ``code``.  Messages are built
from the error's own text (no API key ever reaches one), in the proxy's terms: a remedy the
SDK words as a Python argument (``pass drop_params=True``) is said as the proxy's client or
operator would apply it (:func:`proxy_wording`).
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from gatewise._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
)

INVALID_REQUEST = "invalid_request_error"

# The SDK's remedy for a parameter the provider cannot honour, and the proxy's.
_SDK_DROP_PARAMS = re.compile(r"\b(?:(?:pass|set|use|with) )?`?drop_params=True`?")
REQUEST_DROP_PARAMS = ('send "drop_params": true in the request body (or set drop_params: '
                       "true under litellm_settings in the proxy's config)")
CONFIG_DROP_PARAMS = ("set drop_params: true in this entry's params (or under "
                      "litellm_settings, for every entry)")


def proxy_wording(message: str, remedy: str = REQUEST_DROP_PARAMS) -> str:
    """``message`` (an SDK error's) with the SDK's ``drop_params=True`` advice put as the
    proxy's ``remedy``: a request's (the default) or the config's (:data:`CONFIG_DROP_PARAMS`)."""
    if "drop_params=True" not in message:
        return message
    return _SDK_DROP_PARAMS.sub(remedy, message)


class ProxyError(Exception):
    """An answer the proxy gives instead of a result; ``headers`` are added to the response.
    ``source``: the SDK's or router's error it was mapped from (its attempts, for the
    request's record), if any."""

    source: BaseException | None = None

    def __init__(self, status: int, message: str, *, type: str = INVALID_REQUEST,
                 param: str | None = None, code: str | None = None,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or []

    def payload(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}

    def body(self) -> bytes:
        return orjson.dumps(self.payload())


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ProxyError:
    return ProxyError(400, message, param=param, code=code)


def upstream_auth_message(env_hint: str | None) -> str:
    where = f"{env_hint} / the deployment's api_key" if env_hint else "the deployment's api_key"
    return (f"the upstream provider rejected the deployment's API key (check {where} in the "
            "proxy's config); this is not about the key you sent to the proxy")


def from_api_error(exc: APIError, *, env_hint: str | None = None) -> ProxyError:
    """The SDK's error -> the proxy's answer, with the status the upstream gave."""
    error = _from_api_error(exc, env_hint)
    error.source = exc
    return error


def _from_api_error(exc: APIError, env_hint: str | None) -> ProxyError:
    code = exc.code if isinstance(exc.code, str) else None
    headers: list[tuple[bytes, bytes]] = []
    wait = exc.retry_after
    if wait is not None and 0 <= wait < math.inf:  # never raises: NaN and inf are left out
        headers.append((b"retry-after", str(round(wait)).encode()))
    if isinstance(exc, APITimeoutError):
        return ProxyError(504, exc.message,
                          type="timeout", code=code or "upstream_timeout", headers=headers)
    if isinstance(exc, APIConnectionError):
        return ProxyError(502, exc.message,
                          type="api_connection_error", code=code or "upstream_unreachable",
                          headers=headers)
    status = exc.status_code
    if status is None or not 400 <= status <= 599:
        return ProxyError(502, f"the upstream gave an answer the proxy cannot read: "
                               f"{exc.message}", type="api_error", code=code, headers=headers)
    if isinstance(exc, AuthenticationError):
        return ProxyError(401, upstream_auth_message(env_hint), type="authentication_error",
                          code="upstream_authentication_error", headers=headers)
    return ProxyError(status, proxy_wording(exc.message), type=exc.openai_type, param=exc.param,
                      code=code, headers=headers)


def internal_error(call_id: str) -> ProxyError:
    return ProxyError(500, f"internal error in the proxy (call id {call_id}); see its log",
                      type="api_error", code="internal_error")


def shutting_down() -> ProxyError:
    """For a request still running when the graceful-shutdown period ends."""
    return ProxyError(503, "the proxy is shutting down and this request did not finish within "
                           "its grace period (general_settings.graceful_shutdown_timeout); "
                           "retry it", type="api_error", code="server_shutting_down")
