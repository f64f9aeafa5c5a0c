"""Every time an email, a page or the CLI shows is read on England's clock, said one way in each style, and the
autumn hour the clock reads twice says which of its two readings it is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lrs_platform.clock import day_and_time, in_england, long_day, time_on_day


@pytest.mark.parametrize(
    ("moment", "short", "in_an_email", "day"),
    [
        (datetime(2026, 12, 6, 23, 30, tzinfo=UTC), "6 Dec 2026, 23:30", "23:30 on 6 December 2026", "6 December 2026"),
        # summer: BST, and late in the evening UTC's date is the day before England's
        ("2026-07-01T23:30:15Z", "2 Jul 2026, 00:30", "00:30 on 2 July 2026", "2 July 2026"),
        ("2026-07-01T12:05:00+00:00", "1 Jul 2026, 13:05", "13:05 on 1 July 2026", "1 July 2026"),
        # the hour the clocks go back reads twice: each reading says its zone
        ("2027-10-31T00:30:00Z", "31 Oct 2027, 01:30 BST", "01:30 BST on 31 October 2027", "31 October 2027"),
        ("2027-10-31T01:30:00Z", "31 Oct 2027, 01:30 GMT", "01:30 GMT on 31 October 2027", "31 October 2027"),
        # the hours either side of it read once
        ("2027-10-30T23:30:00Z", "31 Oct 2027, 00:30", "00:30 on 31 October 2027", "31 October 2027"),
        ("2027-10-31T02:30:00Z", "31 Oct 2027, 02:30", "02:30 on 31 October 2027", "31 October 2027"),
        # the spring hour the clock skips: 01:00 GMT is followed by 02:00 BST
        ("2027-03-28T01:00:00Z", "28 Mar 2027, 02:00", "02:00 on 28 March 2027", "28 March 2027"),
    ],
)
def test_each_style_reads_englands_clock(moment: str | datetime, short: str, in_an_email: str, day: str) -> None:
    assert (day_and_time(moment), time_on_day(moment), long_day(moment)) == (short, in_an_email, day)


def test_an_instant_without_a_zone_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        in_england("2026-07-01T12:00:00")
