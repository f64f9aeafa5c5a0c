"""Which windows may be scheduled: none that starts in the past (its audit would say batches were held from a
time they were not, and a mistyped date held them at once), and none that, with the windows it touches, holds
batches for more than 48 hours in one go (four touching 48-hour windows held them 8 days, past the topic's 7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.maintenance import InvalidWindow, check_hold, check_window

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_a_window_from_a_moment_ago_may_start_but_not_one_from_an_hour_ago() -> None:
    check_window(NOW - timedelta(minutes=1), NOW + HOUR, NOW)
    with pytest.raises(InvalidWindow, match="a window cannot start in the past: start it now or later"):
        check_window(NOW - HOUR, NOW + HOUR, NOW)


def test_touching_windows_hold_as_one_and_together_at_most_48_hours() -> None:
    day = 24 * HOUR
    check_hold(NOW + day, NOW + 2 * day, [(NOW, NOW + day)])  # 48 hours in one go: allowed
    with pytest.raises(InvalidWindow) as refused:
        check_hold(NOW + 2 * day, NOW + 3 * day, [(NOW, NOW + day), (NOW + day, NOW + 2 * day)])
    assert str(refused.value) == (
        "with the windows it overlaps or touches, batches would be held from 2026-12-04T15:00:00Z to"
        " 2026-12-07T15:00:00Z, more than 48 hours in one go: the batches wait on a topic kept for 7 days"
    )


def test_a_window_touching_the_chain_only_through_another_is_counted_in_it() -> None:
    day = 24 * HOUR
    # listed latest first: the earliest touches the new window only through the middle one
    scheduled = [(NOW + day, NOW + 2 * day), (NOW, NOW + day)]
    with pytest.raises(InvalidWindow):
        check_hold(NOW + 2 * day, NOW + 2 * day + HOUR, scheduled)
    check_hold(NOW + 3 * day, NOW + 4 * day, scheduled)  # a gap between: two holds of their own
