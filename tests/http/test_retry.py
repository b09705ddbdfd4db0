import pytest

from gatewise import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    ContextWindowExceededError,
    InternalServerError,
    RateLimitError,
    UnprocessableEntityError,
)
from gatewise._exceptions import APIError, error_class_for_status
from gatewise._http import RetryPolicy


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses(status: int) -> None:
    error = error_class_for_status(status)("boom", status_code=status)
    assert RetryPolicy().delay(error, 0) is not None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 418])
def test_other_client_errors_never_retry(status: int) -> None:
    error = error_class_for_status(status)("boom", status_code=status)
    assert RetryPolicy().delay(error, 0) is None


@pytest.mark.parametrize("error", [APIConnectionError("x"), APITimeoutError("x")])
def test_connection_failures_retry(error: APIError) -> None:
    assert RetryPolicy().delay(error, 0) is not None


def test_local_refusals_never_retry() -> None:
    assert RetryPolicy().delay(ContextWindowExceededError("x"), 0) is None
    assert RetryPolicy().delay(UnprocessableEntityError("x"), 0) is None
    assert RetryPolicy().delay(BadRequestError("x"), 0) is None


def test_gives_up_after_num_retries() -> None:
    policy = RetryPolicy(num_retries=2)
    error = InternalServerError("x")
    assert policy.delay(error, 1) is not None
    assert policy.delay(error, 2) is None
    assert RetryPolicy(num_retries=0).delay(error, 0) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(num_retries=10, backoff_base=0.5, backoff_max=8.0)
    error = InternalServerError("x")
    for attempt in range(10):
        ceiling = min(8.0, 0.5 * 2**attempt)
        delays = {policy.delay(error, attempt) for _ in range(20)}
        assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jitter


def test_retry_after_is_honoured_unless_too_long() -> None:
    policy = RetryPolicy(max_retry_after=60)
    assert policy.delay(RateLimitError("x", retry_after=3.0), 0) == 3.0
    assert policy.delay(RateLimitError("x", retry_after=0.0), 0) == 0.0
    assert policy.delay(RateLimitError("x", retry_after=61.0), 0) is None


def test_status_classes_follow_openai() -> None:
    assert error_class_for_status(400) is BadRequestError
    assert error_class_for_status(429) is RateLimitError
    assert error_class_for_status(500) is InternalServerError
    assert error_class_for_status(599) is InternalServerError
