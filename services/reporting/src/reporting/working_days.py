"""Working days in England and Wales: weekdays that are not bank holidays (the `holidays` package).

DOMAIN.md §5 rule 14: results are expected on the PLR within 10 working days of being issued.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

TARGET_WORKING_DAYS = 10


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    # England and Wales share one list of bank holidays; `ENG` is that list.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def working_days_between(issued: date, on_plr: date) -> int:
    """Working days after `issued` up to and including `on_plr`: same day is 0, next working day is 1."""
    if on_plr <= issued:
        return 0
    count = 0
    day = issued + timedelta(days=1)
    while day <= on_plr:
        if is_working_day(day):
            count += 1
        day += timedelta(days=1)
    return count


def within_target(working_days: int) -> bool:
    return working_days <= TARGET_WORKING_DAYS
