"""Per-error policy, the most telling error, and fallback chains: all pure."""

from __future__ import annotations

import pytest

from gatewise import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    UnprocessableEntityError,
)
from gatewise._exceptions import APIError, error_class_for_status
from gatewise.router.fallbacks import FallbackConfig, FallbackPlan, parse_chains
from gatewise.router.policy import (
    Attempt,
    Cooldown,
    Retry,
    attempts_of,
    final_error,
    most_telling,
    policy_for,
)


@pytest.mark.parametrize(("error", "retry", "cooldown"), [
    (BadRequestError("x"), Retry.NEVER, Cooldown.NONE),
    (ContextWindowExceededError("x"), Retry.NEVER, Cooldown.NONE),
    (UnprocessableEntityError("x"), Retry.NEVER, Cooldown.NONE),
    (AuthenticationError("x"), Retry.OTHER, Cooldown.NOW),
    (NotFoundError("x"), Retry.OTHER, Cooldown.NOW),
    (RateLimitError("x"), Retry.ANY, Cooldown.NOW),
    (InternalServerError("x"), Retry.ANY, Cooldown.COUNT),
    (ServiceUnavailableError("x"), Retry.ANY, Cooldown.COUNT),
    (error_class_for_status(408)("x"), Retry.ANY, Cooldown.COUNT),
    (APITimeoutError("x"), Retry.ANY, Cooldown.COUNT),
    (APIConnectionError("x"), Retry.ANY, Cooldown.COUNT),
    (APIResponseValidationError("x"), Retry.OTHER, Cooldown.COUNT),
])
def test_policy_per_error(error: APIError, retry: Retry, cooldown: Cooldown) -> None:
    policy = policy_for(error)
    assert (policy.retry, policy.cooldown) == (retry, cooldown)


def _attempts(*errors: APIError) -> list[Attempt]:
    return [Attempt(f"d{i}", e, "g") for i, e in enumerate(errors)]


def test_most_telling_precedence() -> None:
    timeout, conn = APITimeoutError("t"), APIConnectionError("c")
    server, limit = InternalServerError("s"), RateLimitError("r")
    auth, bad = AuthenticationError("a"), ContextWindowExceededError("w")
    assert most_telling(_attempts(conn, timeout)) is timeout
    assert most_telling(_attempts(timeout, APIResponseValidationError("v"), conn)).message == "v"
    assert most_telling(_attempts(timeout, server, conn)) is server
    assert most_telling(_attempts(server, limit, timeout)) is limit
    assert most_telling(_attempts(limit, auth, server)) is auth
    assert most_telling(_attempts(auth, bad, limit)) is bad


def test_most_telling_rate_limit_has_the_soonest_retry_after_and_ties_go_latest() -> None:
    late, soon = RateLimitError("late", retry_after=30), RateLimitError("soon", retry_after=2)
    assert most_telling(_attempts(late, soon, RateLimitError("unknown"))) is soon
    first, second = InternalServerError("1"), InternalServerError("2")
    assert most_telling(_attempts(first, second)) is second


def test_final_error_is_a_copy_carrying_every_attempt() -> None:
    original = RateLimitError("slow down", provider="mistral", model="m", retry_after=3.0,
                              status_code=429)
    attempts = _attempts(InternalServerError("boom"), original)
    error = final_error(attempts, retries=1, fallbacks=0)
    assert type(error) is RateLimitError and error is not original
    assert (error.status_code, error.retry_after, error.provider) == (429, 3.0, "mistral")
    assert attempts_of(error) == tuple(attempts)
    assert error.attempted_retries == 1  # type: ignore[attr-defined]
    assert "2 attempts failed" in error.__notes__[0]
    assert not hasattr(original, "attempts")
    assert attempts_of(ValueError()) == ()
    again = final_error(attempts, retries=1, fallbacks=0)
    assert len(again.__notes__) == 1


def test_parse_chains_accepts_both_shapes_and_rejects_junk() -> None:
    assert parse_chains([{"a": ["b"]}, {"a": "c"}, {"b": ["c"]}], "fallbacks") == {
        "a": ("b", "c"), "b": ("c",)}
    assert parse_chains({"a": ["b"]}, "fallbacks") == {"a": ("b",)}
    assert parse_chains(None, "fallbacks") == {}
    with pytest.raises(ValueError, match="fallbacks"):
        parse_chains(["a", "b"], "fallbacks")
    with pytest.raises(ValueError, match="list of model names"):
        parse_chains({"a": [1]}, "fallbacks")


def _walk(plan: FallbackPlan, errors: dict[str, APIError]) -> list[str]:
    order = []
    while (group := plan.next()) is not None:
        order.append(group)
        plan.failed(group, errors.get(group, InternalServerError("x")))
    return order


def test_fallback_plan_is_breadth_first_and_never_loops() -> None:
    config = FallbackConfig(fallbacks={"a": ("b", "c"), "b": ("a", "d"), "c": ("a",),
                                       "d": ("b",)})
    assert _walk(FallbackPlan("a", config, max_fallbacks=10), {}) == ["a", "b", "c", "d"]
    assert _walk(FallbackPlan("a", config, max_fallbacks=2), {}) == ["a", "b", "c"]


def test_context_window_and_content_policy_chains_fire_only_for_their_errors() -> None:
    config = FallbackConfig(fallbacks={"a": ("generic",)},
                            context_window={"a": ("big",)},
                            content_policy={"a": ("lenient",)})
    assert config.next_for("a", ContextWindowExceededError("x")) == ("big",)
    assert config.next_for("a", ContentPolicyViolationError("x")) == ("lenient",)
    assert config.next_for("a", InternalServerError("x")) == ("generic",)
    assert config.next_for("a", BadRequestError("x")) == ("generic",)
    only_cw = FallbackConfig(context_window={"a": ("big",)})
    assert only_cw.next_for("a", InternalServerError("x")) == ()
    # without a special chain the generic one applies ("fallbacks: any error")
    assert FallbackConfig(fallbacks={"a": ("g",)}).next_for(
        "a", ContextWindowExceededError("x")) == ("g",)


def test_wildcard_and_per_call_overrides() -> None:
    config = FallbackConfig(fallbacks={"*": ("default",), "a": ("b",)})
    assert config.next_for("zzz", InternalServerError("x")) == ("default",)
    assert config.next_for("a", InternalServerError("x")) == ("b",)
    assert config.with_overrides("a") is config
    call = config.with_overrides("a", fallbacks=["c", "d"], context_window="big")
    assert call.next_for("a", InternalServerError("x")) == ("c", "d")
    assert call.next_for("a", ContextWindowExceededError("x")) == ("big",)
    assert call.groups() == {"a", "c", "d", "default", "big"}  # the call's list replaces a's


def test_aliases_resolve_to_their_groups_before_checking_for_loops() -> None:
    config = FallbackConfig(fallbacks={"a": ("alias-of-a", "b"), "alias-of-b": ("c",)})
    resolved = config.resolved({"alias-of-a": "a", "alias-of-b": "b"})
    assert resolved.fallbacks == {"a": ("a", "b"), "b": ("c",)}
    assert _walk(FallbackPlan("a", resolved, max_fallbacks=5), {}) == ["a", "b", "c"]
