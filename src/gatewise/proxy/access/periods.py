"""Budget durations (and key expiries): ``"30s"``, ``"30m"``, ``"30h"``, ``"30d"``,
``"2w"`` and ``"1mo"``, and the words ``hourly``, ``daily``, ``weekly`` and ``monthly``
(LiteLLM's forms).

A budget's spend resets at the end of each period.  A period starts when the budget is set
(``budget_reset_at`` is the end of the current one) and the next one follows it directly:
``next_reset(reset_at, duration)`` steps a whole number of periods past ``now``, so a
proxy that was down for three periods does not replay them.  Months are calendar months
(the 31st of a month followed by a 30-day month lands on the 30th).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["Duration", "next_reset", "parse_duration"]

_PATTERN = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w|mo)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_WORDS = {"hourly": (3600, 0), "daily": (86400, 0), "weekly": (7 * 86400, 0),
          "monthly": (0, 1)}
_FORMS = ("a positive number followed by s, m, h, d, w or mo ('30s', '30m', '30h', '30d', "
          "'2w', '1mo'), or hourly, daily, weekly or monthly")
_MAX_SECONDS = 100 * 365 * 86400


@dataclass(frozen=True, slots=True)
class Duration:
    """A parsed duration: ``months`` calendar months, or ``seconds``."""

    text: str
    seconds: int = 0
    months: int = 0

    def after(self, start: datetime) -> datetime:
        """``start`` plus this duration."""
        if not self.months:
            return start + timedelta(seconds=self.seconds)
        month = start.month - 1 + self.months
        year = start.year + month // 12
        month = month % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return start.replace(year=year, month=month, day=day)


def parse_duration(text: object) -> Duration:
    """``ValueError`` naming the accepted forms when ``text`` is not one of them."""
    if not isinstance(text, str):
        raise ValueError(f"must be a duration string: {_FORMS}; got {type(text).__name__}")
    word = _WORDS.get(text.strip().lower())
    if word is not None:
        return Duration(text.strip().lower(), seconds=word[0], months=word[1])
    match = _PATTERN.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text[:32]!r} is not a duration: use {_FORMS}")
    count, unit = int(match.group(1)), match.group(2)
    if unit == "mo":
        if count > 1200:
            raise ValueError(f"{text!r} is longer than 100 years")
        return Duration(f"{count}mo", months=count)
    seconds = count * _SECONDS[unit]
    if seconds > _MAX_SECONDS:
        raise ValueError(f"{text!r} is longer than 100 years")
    return Duration(f"{count}{unit}", seconds=seconds)


def next_reset(reset_at: datetime, duration: Duration, now: datetime | None = None
               ) -> datetime:
    """The end of the period holding ``now``, for a budget whose period ended (or ends)
    at ``reset_at``: ``reset_at`` itself while it is still ahead."""
    now = now or datetime.now(UTC)
    if reset_at > now:
        return reset_at
    if not duration.months:
        periods = int((now - reset_at).total_seconds() // duration.seconds) + 1
        return reset_at + timedelta(seconds=periods * duration.seconds)
    end = reset_at
    while end <= now:
        end = duration.after(end)
    return end
