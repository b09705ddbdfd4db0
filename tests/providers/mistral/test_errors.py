"""error_for: every real Mistral error body shape -> a typed, readable gatewise error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from gatewise._exceptions import (
    APIError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    UnprocessableEntityError,
)
from gatewise.providers.mistral import error_for
from tests.providers.mistral._helpers import MODEL

DETAIL = [
    {"type": "extra_forbidden", "loc": ["body", "messages", 0, "user", "name"],
     "msg": "Extra inputs are not permitted", "input": "bob"},
    {"type": "less_than_equal", "loc": ["body", "temperature"],
     "msg": "Input should be less than or equal to 1.5", "input": 2, "ctx": {"le": 1.5}},
    {"type": "missing", "loc": ["body", "model"], "msg": "Field required",
     "input": {"messages": []}},
]
EXPECTED_422 = (
    "Mistral rejected the request (422): body.messages.0.user.name: Extra inputs are not "
    "permitted (got 'bob'); body.temperature: Input should be less than or equal to 1.5 "
    "(got 2); body.model: Field required"
)


def err(status: int, body: Any, headers: dict[str, str] | None = None) -> APIError:
    return error_for(status, body, headers=headers or {}, model=MODEL)


@pytest.mark.parametrize("body", [
    {"detail": DETAIL},  # 2026: plain FastAPI
    {"object": "error", "message": {"detail": DETAIL}, "type": "invalid_request_error",
     "param": None, "code": None},  # 2024-2025 envelope
    {"object": "error", "message": json.dumps({"detail": DETAIL}),
     "type": "internal_error_proxy", "param": None, "code": "1000"},  # 2024: detail as text
    json.dumps({"detail": DETAIL}),  # undecoded text
])
def test_422_lists_every_field_path(body: Any) -> None:
    error = err(422, body)
    assert type(error) is UnprocessableEntityError
    assert error.message == EXPECTED_422
    assert error.body is body


def test_long_inputs_are_shortened_in_the_message() -> None:
    detail = [{"type": "string_type", "loc": ["body", "stop"], "msg": "bad", "input": "x" * 500}]
    assert len(err(422, {"detail": detail}).message) < 200


@pytest.mark.parametrize("message", [
    "Prompt contains 40025 tokens and 0 draft tokens, too large for model with 32768 "
    "maximum context length",
    "This model's maximum context length is 32768 tokens.",
    "Input exceeds the context window of this model",
    "prompt is too long: 300000 tokens > 262144 maximum",
])
def test_context_overflow_400(message: str) -> None:
    error = err(400, {"object": "error", "message": message, "type": "invalid_request_error",
                      "param": None, "code": None})
    assert type(error) is ContextWindowExceededError
    assert message in error.message


@pytest.mark.parametrize("message", [
    "Too many tokens overall, split into more batches",
    "Unexpected role 'user' after role 'tool'",
])
def test_other_400s_are_plain_bad_requests(message: str) -> None:
    assert type(err(400, {"object": "error", "message": message})) is BadRequestError


def test_envelope_fields_are_carried() -> None:
    body = {"object": "error", "message": "Tool call id was turn1_0 but must be a-z, A-Z, "
            "0-9, with a length of 9.", "type": "invalid_function_call", "param": None,
            "code": "3280", "raw_status_code": 400}
    error = err(400, body)
    assert type(error) is BadRequestError
    assert (error.provider, error.model, error.status_code, error.code) == (
        "mistral", MODEL, 400, "3280")
    assert error.body is body
    assert error.message == ("Mistral rejected the request (400, invalid_function_call): "
                             + body["message"])


@pytest.mark.parametrize("body", [
    {"detail": "Unauthorized"},
    {"message": "Unauthorized", "request_id": "c61f2f15"},
    {"message": "No API key found in request"},
    None,
])
def test_401_says_the_key_was_rejected_and_never_echoes_it(body: Any) -> None:
    error = err(401, body, {"Authorization": "Bearer sk-secret-123"})
    assert type(error) is AuthenticationError
    assert error.message.startswith("Mistral rejected the API key (401)")
    assert "sk-secret" not in str(error)
    assert "Bearer" not in str(error)


def test_429_retry_after_seconds() -> None:
    body = {"object": "error", "message": "Rate limit exceeded", "type": "rate_limited",
            "param": None, "code": "1300", "raw_status_code": 429}
    error = err(429, body, {"Retry-After": "7"})
    assert type(error) is RateLimitError
    assert error.retry_after == 7.0
    assert error.code == "1300"
    assert error.retryable


def test_429_retry_after_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    error = err(429, {"message": "Requests rate limit exceeded"},
                {"retry-after": format_datetime(when, usegmt=True)})
    assert error.retry_after is not None
    assert 25 <= error.retry_after <= 31


@pytest.mark.parametrize(("headers", "expected"), [
    ({"x-ratelimit-reset-req-minute": "12", "x-ratelimit-remaining-req-minute": "0",
      "x-ratelimit-reset-tokens-minute": "40", "x-ratelimit-remaining-tokens-minute": "900"},
     12.0),
    ({"X-RateLimit-Reset-Tokens-Minute": "40", "X-RateLimit-Remaining-Tokens-Minute": "0",
      "x-ratelimit-reset-req-minute": "5", "x-ratelimit-remaining-req-minute": "0"}, 40.0),
    ({"x-ratelimit-reset-req-minute": "9", "x-ratelimit-reset-tokens-minute": "3"}, 3.0),
    ({"Retry-After": "2", "x-ratelimit-reset-req-minute": "9"}, 2.0),
    ({"Retry-After": "soon"}, None),
    ({}, None),
    # Not finite, negative or unreadable: treated as unsaid (the next header may speak).
    *(({"Retry-After": bad}, None) for bad in ("inf", "Infinity", "nan", "1e400", "-5",
                                                "-inf", "Mon, 01 Jan 2001 00:00:00")),
    ({"Retry-After": "inf", "x-ratelimit-reset-req-minute": "9"}, 9.0),
    ({"x-ratelimit-reset-tokens": "inf", "x-ratelimit-remaining-tokens": "0"}, None),
    ({"x-ratelimit-reset-tokens": "1e400", "x-ratelimit-reset-req": "4"}, 4.0),
])
def test_429_retry_after_from_rate_limit_headers(headers: dict[str, str],
                                                 expected: float | None) -> None:
    assert err(429, {"message": "Rate limit exceeded"}, headers).retry_after == expected


@pytest.mark.parametrize(("status", "cls"), [(500, InternalServerError), (502, InternalServerError),
                                             (503, ServiceUnavailableError),
                                             (504, InternalServerError)])
def test_5xx(status: int, cls: type[APIError]) -> None:
    error = err(status, "<html>Bad gateway</html>")
    assert type(error) is cls
    assert error.message == f"Mistral server error ({status}): <html>Bad gateway</html>"
    assert error.retryable


@pytest.mark.parametrize(("status", "body", "cls", "text"), [
    (404, {"detail": "Not Found"}, NotFoundError, "Not Found"),
    (404, {"message": "no Route matched with those values", "request_id": "4e66"},
     NotFoundError, "no Route matched"),
    (400, {"object": "error", "message": "Invalid model: mistral-medium-3.5",
           "type": "invalid_model", "param": None, "code": "1500"}, BadRequestError,
     "Invalid model: mistral-medium-3.5"),
    (403, "Forbidden", APIStatusError, "Forbidden"),
    (400, None, BadRequestError, "no details given"),
    (400, b'{"message": "bytes body"}', BadRequestError, "bytes body"),
    (418, {"error": {"message": "proxy said no", "type": "x"}}, APIStatusError, "proxy said no"),
    (400, {"object": "error", "message": ["odd"]}, BadRequestError, '["odd"]'),
])
def test_every_body_shape_reads_well(status: int, body: Any, cls: type[APIError],
                                     text: str) -> None:
    error = err(status, body)
    assert isinstance(error, cls)
    assert text in error.message
    assert error.status_code == status
    assert error.provider == "mistral"
