"""Typed errors, retries and timeouts through the public API, against scripted faults."""

from __future__ import annotations

import time
from typing import Any

import pytest

import gatewise
from gatewise import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    ServiceUnavailableError,
    UnprocessableEntityError,
)
from tests.fake_mistral import BadEvent, CutStream, Delay, FakeMistral, Garbage, Status
from tests.sdk.conftest import SDK


def test_bad_key_is_an_authentication_error_without_the_key(sdk: SDK) -> None:
    sdk.defaults["api_key"] = "sk-wrong-key-4242"
    with pytest.raises(AuthenticationError) as info:
        sdk.completion()
    error = info.value
    assert error.status_code == 401
    assert error.provider == "mistral"
    assert error.model == "mistral-small-latest"
    assert not error.retryable
    assert "sk-wrong-key-4242" not in str(error) + repr(error)


def test_unknown_model_is_a_bad_request(sdk: SDK) -> None:
    with pytest.raises(BadRequestError, match="Invalid model") as info:
        sdk.completion(model="mistral/no-such-model")
    assert info.value.status_code == 400
    assert info.value.code == "1500"


def test_422_lists_every_offending_field(sdk: SDK) -> None:
    with pytest.raises(UnprocessableEntityError) as info:
        sdk.completion(extra_body={"bogus": 1, "other_bogus": 9})
    message = str(info.value)
    assert "bogus" in message and "other_bogus" in message
    assert info.value.status_code == 422


def test_429_is_retried_honouring_retry_after(sdk: SDK, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(Status(429, headers={"Retry-After": "0"}))
    response = sdk.completion()
    assert response.choices[0].message.content
    assert len(fake_mistral.requests) == 2


def test_429_after_all_retries_carries_retry_after(sdk: SDK, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(*[Status(429, headers={"Retry-After": "0"})] * 3)
    with pytest.raises(RateLimitError) as info:
        sdk.completion(num_retries=2)
    assert info.value.retry_after == 0
    assert info.value.retryable
    assert len(fake_mistral.requests) == 3


@pytest.mark.parametrize(("status", "error"), [(500, InternalServerError),
                                               (502, InternalServerError),
                                               (503, ServiceUnavailableError),
                                               (504, InternalServerError)])
def test_5xx_is_retried_then_typed(sdk: SDK, fake_mistral: FakeMistral, status: int,
                                   error: type[Exception]) -> None:
    fake_mistral.script(Status(status), Status(status))
    with pytest.raises(error):
        sdk.completion(num_retries=1)
    assert len(fake_mistral.requests) == 2


@pytest.mark.parametrize(("status", "error"), [(403, gatewise.PermissionDeniedError),
                                               (404, gatewise.NotFoundError),
                                               (400, BadRequestError)])
def test_client_errors_are_typed_by_status(sdk: SDK, fake_mistral: FakeMistral, status: int,
                                           error: type[gatewise.APIStatusError]) -> None:
    fake_mistral.script(Status(status))
    with pytest.raises(error) as info:
        sdk.completion()
    assert info.value.status_code == status
    assert info.value.body is not None
    assert not info.value.retryable


def test_409_is_retried(sdk: SDK, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(Status(409, headers={"Retry-After": "0"}))
    assert sdk.completion().choices
    assert len(fake_mistral.requests) == 2


def test_4xx_is_never_retried(sdk: SDK, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(Status(400))
    with pytest.raises(BadRequestError):
        sdk.completion(num_retries=3)
    assert len(fake_mistral.requests) == 1


def test_timeout_is_a_timeout_error_within_the_limit(sdk: SDK, fake_mistral: FakeMistral
                                                      ) -> None:
    fake_mistral.script(Delay(3))
    start = time.monotonic()
    with pytest.raises(APITimeoutError):
        sdk.completion(timeout=0.3, num_retries=0)
    assert time.monotonic() - start < 2


def test_garbage_body_is_a_validation_error(sdk: SDK, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(Garbage(b"<html>oops"))
    with pytest.raises(APIResponseValidationError):
        sdk.completion()


def test_cut_stream_raises(sdk: SDK, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(CutStream(after_events=2))
    with pytest.raises(APIConnectionError, match="before it was complete"):
        sdk.stream()


def test_non_json_event_raises(sdk: SDK, fake_mistral: FakeMistral) -> None:
    fake_mistral.script(BadEvent(after_events=1))
    with pytest.raises(APIResponseValidationError):
        sdk.stream()


def test_stream_errors_before_the_first_byte_are_retried(sdk: SDK, fake_mistral: FakeMistral
                                                         ) -> None:
    fake_mistral.script(Status(503))
    assert sdk.stream(num_retries=1)


def test_error_tree() -> None:
    assert issubclass(gatewise.ContextWindowExceededError, BadRequestError)
    assert issubclass(gatewise.UnsupportedParamsError, BadRequestError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(ServiceUnavailableError, InternalServerError)
    assert issubclass(RateLimitError, gatewise.APIStatusError)


@pytest.mark.parametrize("extra", [{"model": "magistral-medium-latest"}, {"stream": True},
                                   {"messages": []}, {"max_tokens": 100000}])
def test_extra_body_cannot_replace_what_gatewise_writes(sdk: SDK, extra: dict[str, Any]
                                                        ) -> None:
    with pytest.raises(BadRequestError) as info:
        sdk.completion(extra_body=extra)
    assert info.value.param == f"extra_body.{next(iter(extra))}"
    assert sdk.fake.requests == []
    with pytest.raises(BadRequestError, match="extra_body cannot set model"):
        sdk.embedding(input="x", extra_body={"model": "codestral-embed"})
