"""Every error gatewise raises, named as in OpenAI's SDK.

::

    GatewiseError
     +-- APIError                      anything about a call to a model
          +-- APIConnectionError       the upstream could not be reached / the connection broke
          |    +-- APITimeoutError     connect, read or stream-idle timeout
          +-- APIResponseValidationError  the upstream answered 2xx with a body we cannot read
          +-- APIStatusError           the upstream (or we, before sending) refused the call
               +-- BadRequestError             400
               |    +-- ContextWindowExceededError   prompt + max_tokens do not fit
               |    +-- UnsupportedParamsError       a parameter the provider cannot honour
               |    +-- ContentPolicyViolationError  refused by a moderation guardrail
               +-- AuthenticationError         401 (also: no API key configured)
               +-- PermissionDeniedError       403
               +-- NotFoundError               404
               +-- ConflictError               409
               +-- UnprocessableEntityError    422 (lists each offending field path)
               +-- RateLimitError              429
               +-- InternalServerError         5xx
                    +-- ServiceUnavailableError  503

Every :class:`APIError` carries ``status_code``, ``provider``, ``model``, ``body`` (the
upstream's decoded error body, if any), ``retryable`` and ``retry_after`` (seconds the
upstream asked us to wait, if it said).  Errors are mapped once, where the response is read
(``gatewise._http``), status first, then by the provider's error type.  API keys never
appear in a message: messages are built from the status and the upstream's text only.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ContentPolicyViolationError",
    "ContextWindowExceededError",
    "GatewiseError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServiceUnavailableError",
    "UnprocessableEntityError",
    "UnsupportedParamsError",
    "error_class_for_status",
]


class GatewiseError(Exception):
    """Base of every error raised by gatewise."""


class APIError(GatewiseError):
    """A call to a model failed.

    ``openai_type`` and ``openai_code`` are what the proxy puts in OpenAI's error JSON.
    """

    status_code: int | None = None
    retryable: bool = False
    openai_type: str = "api_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        body: Any = None,
        retry_after: float | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model
        if status_code is not None:
            self.status_code = status_code
        self.body = body
        self.retry_after = retry_after
        self.param = param
        self.code = code

    def __str__(self) -> str:
        where = "/".join(p for p in (self.provider, self.model) if p)
        prefix = f"[{where}] " if where else ""
        status = f"{self.status_code} " if self.status_code is not None else ""
        return f"{prefix}{status}{self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, status_code={self.status_code!r}, "
            f"provider={self.provider!r}, model={self.model!r})"
        )


class APIConnectionError(APIError):
    """The upstream could not be reached, or the connection broke mid-answer.

    ``unsent`` is True when no connection could even be opened (refused, DNS failure,
    connect timeout): nothing reached the upstream, so trying another deployment is always
    safe.  Each transport sets it where it knows.
    """

    retryable = True
    openai_type = "api_connection_error"
    unsent: bool = False


class APITimeoutError(APIConnectionError):
    """The upstream did not answer (or went quiet mid-stream) within the timeout."""

    openai_type = "timeout"


class APIResponseValidationError(APIError):
    """The upstream answered with a body (or stream event) that cannot be read."""

    retryable = False
    openai_type = "api_error"


class APIStatusError(APIError):
    """The call was refused with an HTTP status (by the upstream, or locally before sending)."""

    status_code: int = 500


class BadRequestError(APIStatusError):
    status_code = 400
    openai_type = "invalid_request_error"


class ContextWindowExceededError(BadRequestError):
    """The prompt plus the requested output does not fit the model's context window."""

    openai_type = "invalid_request_error"


class UnsupportedParamsError(BadRequestError):
    """A parameter the provider cannot honour; raised before any network call.

    Pass ``drop_params=True`` to drop such parameters instead.
    """


class ContentPolicyViolationError(BadRequestError):
    """The request was blocked by a moderation guardrail."""


class AuthenticationError(APIStatusError):
    status_code = 401
    openai_type = "authentication_error"


class PermissionDeniedError(APIStatusError):
    status_code = 403
    openai_type = "permission_error"


class NotFoundError(APIStatusError):
    status_code = 404
    openai_type = "not_found_error"


class ConflictError(APIStatusError):
    status_code = 409
    retryable = True
    openai_type = "conflict_error"


class UnprocessableEntityError(APIStatusError):
    status_code = 422
    openai_type = "invalid_request_error"


class RateLimitError(APIStatusError):
    status_code = 429
    retryable = True
    openai_type = "rate_limit_error"


class InternalServerError(APIStatusError):
    status_code = 500
    retryable = True
    openai_type = "api_error"


class ServiceUnavailableError(InternalServerError):
    status_code = 503


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def error_class_for_status(status: int) -> type[APIStatusError]:
    """The error class OpenAI's SDK would use for an HTTP status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return InternalServerError
    if status == 408:
        return _RequestTimeoutStatusError
    return APIStatusError


class _RequestTimeoutStatusError(APIStatusError):
    """A 408 from the upstream: it gave up waiting for us; safe to retry."""

    status_code = 408
    retryable = True
