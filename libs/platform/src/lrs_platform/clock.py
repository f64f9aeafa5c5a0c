"""The calendar the rules and the reports read, and the clock people read: England's (award dates in the future,
results issued on time, a month of MI, every time an email, a page or the CLI shows), whichever zone a server runs
in."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

ENGLAND = ZoneInfo("Europe/London")


def today_in_england() -> date:
    return datetime.now(ENGLAND).date()


def in_england(moment: str | datetime) -> datetime:
    """`moment` (an aware datetime, or an ISO 8601 instant with `Z` or an offset, as the services send them) on
    England's clock."""
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00")) if isinstance(moment, str) else moment
    if parsed.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone: which instant it is cannot be told")
    return parsed.astimezone(ENGLAND)


def zone_when_read_twice(local: datetime) -> str:
    """` BST` or ` GMT` in the hour the clocks go back, which the clock reads twice ("01:30 BST", then "01:30 GMT"):
    two instants an hour apart otherwise read the same. Nothing at any other time."""
    read_twice = local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()
    return f" {local.tzname()}" if read_twice else ""


def day_and_time(moment: str | datetime) -> str:
    """`6 Dec 2026, 23:30`, as the portal's pages and the CLI show a time."""
    local = in_england(moment)
    return f"{local:%-d %b %Y, %H:%M}{zone_when_read_twice(local)}"


def time_on_day(moment: str | datetime) -> str:
    """`14:05 on 6 December 2026`, as an email says a time."""
    local = in_england(moment)
    return f"{local:%H:%M}{zone_when_read_twice(local)} on {local:%-d %B %Y}"


def long_day(moment: str | datetime) -> str:
    """`6 December 2026`: the day in England (00:30 BST on 15 June is still 14 June in UTC)."""
    return day_said(in_england(moment).date())


def day_said(day: date) -> str:
    """`2 July 2013`: a day as people write it, not `2013-07-02` (which a screen reader reads as a number)."""
    return f"{day:%-d %B %Y}"
