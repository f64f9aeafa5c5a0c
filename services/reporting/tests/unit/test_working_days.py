from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporting.working_days import _bank_holidays, within_target, working_days_between


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2023, 5, 8), False),  # Coronation of King Charles III, a one-off bank holiday
        (date(2022, 6, 3), False),  # Platinum Jubilee, a one-off bank holiday
        (date(2022, 6, 2), False),  # the moved spring bank holiday that year
        (date(2023, 8, 28), False),  # summer bank holiday (England and Wales; not Scotland's)
        (date(2023, 8, 7), True),  # Scotland's summer bank holiday is a working day here
        (date(2023, 5, 6), False),  # Saturday
        (date(2023, 5, 9), True),
    ],
)
def test_england_and_wales_working_days(day: date, working: bool) -> None:
    assert is_working_day(day) is working


def test_same_day_is_zero_and_next_working_day_is_one() -> None:
    assert working_days_between(date(2024, 3, 4), date(2024, 3, 4)) == 0
    assert working_days_between(date(2024, 3, 4), date(2024, 3, 5)) == 1
    assert working_days_between(date(2024, 3, 8), date(2024, 3, 11)) == 1  # Friday → Monday


def test_a_decision_before_the_issue_date_counts_as_zero() -> None:
    assert working_days_between(date(2024, 3, 8), date(2024, 3, 1)) == 0


def test_coronation_week_2023_loses_a_day() -> None:
    # Issued Thu 4 May 2023; Mon 8 May is the Coronation bank holiday: 10 working days end on Fri 19 May.
    assert working_days_between(date(2023, 5, 4), date(2023, 5, 19)) == 10
    assert working_days_between(date(2023, 5, 4), date(2023, 5, 22)) == 11


def test_platinum_jubilee_2022_loses_two_days() -> None:
    # Issued Tue 31 May 2022; Thu 2 and Fri 3 June are bank holidays.
    assert working_days_between(date(2022, 5, 31), date(2022, 6, 6)) == 2
    assert working_days_between(date(2022, 5, 31), date(2022, 6, 14)) == 8


def test_christmas_across_the_year_end() -> None:
    # 25, 26 Dec 2023 and 1 Jan 2024 are bank holidays.
    assert working_days_between(date(2023, 12, 22), date(2024, 1, 2)) == 4


def test_target_is_ten_working_days() -> None:
    assert within_target(10)
    assert not within_target(11)


def _walked(issued: date, on_plr: date) -> int:
    """Working days counted one day at a time: what `working_days_between` must answer."""
    return sum(1 for offset in range(1, (on_plr - issued).days + 1) if is_working_day(issued + timedelta(days=offset)))


@settings(deadline=None)  # the first example loads the holidays package: seconds, when this test runs first
@given(st.dates(date(2015, 1, 1), date(2030, 12, 31)), st.integers(min_value=-10, max_value=1_500))
def test_counting_working_days_answers_what_walking_them_does(issued: date, days: int) -> None:
    on_plr = issued + timedelta(days=days)
    assert working_days_between(issued, on_plr) == _walked(issued, on_plr)
