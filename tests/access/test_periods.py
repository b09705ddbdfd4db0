"""Durations in LiteLLM's forms: a number and a unit (s, m, h, d, w, mo) or a word."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gatewise.proxy.access.periods import next_reset, parse_duration

START = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "seconds", "months", "shown"), [
    ("30s", 30, 0, "30s"), ("30m", 1800, 0, "30m"), ("30h", 108000, 0, "30h"),
    ("30d", 30 * 86400, 0, "30d"), ("2w", 14 * 86400, 0, "2w"), (" 1 w ", 7 * 86400, 0, "1w"),
    ("1mo", 0, 1, "1mo"), ("hourly", 3600, 0, "hourly"), ("daily", 86400, 0, "daily"),
    ("Weekly", 7 * 86400, 0, "weekly"), ("monthly", 0, 1, "monthly")])
def test_litellm_forms(text: str, seconds: int, months: int, shown: str) -> None:
    duration = parse_duration(text)
    assert (duration.seconds, duration.months, duration.text) == (seconds, months, shown)
    assert parse_duration(duration.text) == duration  # what is stored parses again


def test_weeks_and_months_step_as_calendars_do() -> None:
    assert parse_duration("2w").after(START) == datetime(2026, 2, 14, 12, 0, tzinfo=UTC)
    assert parse_duration("monthly").after(START) == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    now = datetime(2026, 2, 20, tzinfo=UTC)
    assert next_reset(START, parse_duration("weekly"), now) == datetime(
        2026, 2, 21, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["10x", "0w", "w", "2 weeks", "fortnightly", "yearly",
                                  "1y", "", "daily2", "-1d", "5300w"])
def test_anything_else_is_refused_naming_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a duration|longer than 100 years") as info:
        parse_duration(text)
    if "not a duration" in str(info.value):
        assert "weekly" in str(info.value) and "'2w'" in str(info.value)


def test_a_duration_must_be_a_string() -> None:
    with pytest.raises(ValueError, match="must be a duration string"):
        parse_duration(7)
