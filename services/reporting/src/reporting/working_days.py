"""Working days in England and Wales: weekdays that are not bank holidays (the `holidays` package).

DOMAIN.md §5 rule 14: results are expected on the PLR within 10 working days of being issued.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays

TARGET_WORKING_DAYS = 10


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    # England and Wales share one list of bank holidays; `ENG` is that list.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def working_days_between(issued: date, on_plr: date) -> int:
    """Working days after `issued` up to and including `on_plr`: same day is 0, next working day is 1.

    Counted, not walked: the weekdays between the two, less the bank holidays among them that fall on a
    weekday. An aggregate counts this for every batch of its month each time it is recomputed, and a
    batch's issue date can be years before its decision (decision 0107)."""
    if on_plr <= issued:
        return 0
    holidays_among = sum(
        1
        for year in range(issued.year, on_plr.year + 1)
        for holiday in _weekday_bank_holidays(year)
        if issued < holiday <= on_plr
    )
    return _weekdays_to(on_plr) - _weekdays_to(issued) - holidays_among


def _weekdays_to(day: date) -> int:
    """Weekdays from 1 January of year 1 (a Monday) up to and including `day`."""
    weeks, days = divmod(day.toordinal(), 7)
    return weeks * 5 + min(days, 5)


@lru_cache(maxsize=64)
def _weekday_bank_holidays(year: int) -> tuple[date, ...]:
    return tuple(sorted(day for day in _bank_holidays(year) if day.weekday() < 5))


def within_target(working_days: int) -> bool:
    return working_days <= TARGET_WORKING_DAYS


COUNTED_YEARS = (1900, 2100)
"""The years the reports' SQL counts working days in, unless some day it counts is outside them."""


@lru_cache(maxsize=4)
def weekday_bank_holidays(first_year: int, last_year: int) -> tuple[date, ...]:
    """The bank holidays on weekdays of the years `first_year` to `last_year`, in order."""
    return tuple(
        day for year in range(first_year, last_year + 1) for day in sorted(_bank_holidays_of(year)) if day.weekday() < 5
    )


def _bank_holidays_of(year: int) -> frozenset[date]:
    # as `_bank_holidays`, without filling its cache (of the years the reports' batches are in) with two centuries
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())
