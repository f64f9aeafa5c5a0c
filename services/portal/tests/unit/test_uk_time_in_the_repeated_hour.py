"""A time in the hour the clocks go back, which the UK clock reads twice, is said with its zone (windows report,
finding 2): two maintenance windows an hour apart read the same in the banner on every AO page, and a held batch's
"processed after 31 Oct 2027, 01:30 (UK time)" could mean either."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal.web.common import TEMPLATES, uk_time


@pytest.mark.parametrize(
    ("instant", "said"),
    [
        ("2027-10-31T00:30:00Z", "31 Oct 2027, 01:30 BST"),  # the first 01:30, in summer time
        ("2027-10-31T01:30:00Z", "31 Oct 2027, 01:30 GMT"),  # the second, an hour later
        ("2027-10-31T00:00:00+00:00", "31 Oct 2027, 01:00 BST"),  # the repeated hour begins
        ("2027-10-31T01:59:00Z", "31 Oct 2027, 01:59 GMT"),
        # either side of it, and in the hour the clocks skip, each clock time is read once: no zone
        ("2027-10-30T23:59:00Z", "31 Oct 2027, 00:59"),
        ("2027-10-31T02:00:00Z", "31 Oct 2027, 02:00"),
        ("2027-03-28T01:00:00Z", "28 Mar 2027, 02:00"),
        ("2027-06-06T22:00:00Z", "6 Jun 2027, 23:00"),
        ("2026-12-06T08:30:41Z", "6 Dec 2026, 08:30"),
    ],
)
def test_a_time_in_the_repeated_hour_says_its_zone(instant: str, said: str) -> None:
    assert uk_time(instant) == said


def test_a_datetime_is_said_as_its_instant_is() -> None:
    assert uk_time(datetime(2027, 10, 31, 1, 30, tzinfo=UTC)) == "31 Oct 2027, 01:30 GMT"
    assert uk_time(None) == "" and uk_time("") == ""


def test_the_pages_filter_says_it_too() -> None:
    """Every page's times go through the `uk_time` filter: the banner, held batches, the maintenance page."""
    shown = TEMPLATES.from_string("{{ a | uk_time }} and {{ b | uk_time }}").render(
        a="2027-10-31T00:30:00Z", b="2027-10-31T01:30:00Z"
    )
    assert shown == "31 Oct 2027, 01:30 BST and 31 Oct 2027, 01:30 GMT"
