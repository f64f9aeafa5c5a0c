"""An achievement is challenged at most 3 times in 24 hours (`RaiseLimit`, the settings
`CHALLENGES_RAISES_PER_ACHIEVEMENT` and `CHALLENGES_RAISES_WINDOW_HOURS`), withdrawn challenges included: a learner
raising and withdrawing in a loop sent the AO's challenge contact two emails a turn and added one a turn to its MI
(walk report "challenges", finding 1). One raise more is refused until the oldest of those raises leaves the window:
a domain error naming that moment, which the HTTP edge alone answers 429 with Retry-After
(tests/integration/test_challenge_raise_limit.py counts them in PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from challenges.api import _translate
from challenges.config import ChallengesSettings
from challenges.domain import RaisedTooOften, RaiseLimit, raise_allowed
from lrs_contracts.codes import PROBLEM_CODE_EXPLANATIONS, ProblemCode
from lrs_platform.clock import day_and_time

ACHIEVEMENT = uuid.uuid4()
NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
DAY = RaiseLimit()


def test_the_limit_is_three_raises_a_day_by_default_and_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (DAY.raises, DAY.window) == (3, timedelta(hours=24))
    assert ChallengesSettings().raise_limit() == DAY
    monkeypatch.setenv("CHALLENGES_RAISES_PER_ACHIEVEMENT", "5")
    monkeypatch.setenv("CHALLENGES_RAISES_WINDOW_HOURS", "2")
    assert ChallengesSettings().raise_limit() == RaiseLimit(5, timedelta(hours=2))


def test_three_raises_in_the_day_are_taken() -> None:
    raise_allowed(ACHIEVEMENT, DAY, [], NOW)
    raise_allowed(ACHIEVEMENT, DAY, [NOW - timedelta(minutes=2), NOW - timedelta(minutes=1)], NOW)


def test_a_fourth_in_the_day_is_refused_until_the_oldest_of_the_three_is_a_day_old() -> None:
    oldest = NOW - timedelta(hours=5)
    recent = [NOW - timedelta(seconds=3), oldest, NOW - timedelta(hours=1)]

    with pytest.raises(RaisedTooOften) as refused:
        raise_allowed(ACHIEVEMENT, DAY, recent, NOW)

    assert (refused.value.achievement_id, refused.value.until) == (ACHIEVEMENT, oldest + timedelta(hours=24))


def test_a_raise_at_the_moment_the_refusal_named_is_taken() -> None:
    recent = [NOW - timedelta(hours=5), NOW - timedelta(hours=1), NOW - timedelta(seconds=3)]
    with pytest.raises(RaisedTooOften) as refused:
        raise_allowed(ACHIEVEMENT, DAY, recent, NOW)

    raise_allowed(ACHIEVEMENT, DAY, recent, refused.value.until)  # the oldest is exactly 24 h old: out of the window


def test_raises_older_than_the_window_do_not_count() -> None:
    raise_allowed(ACHIEVEMENT, DAY, [NOW - timedelta(hours=24), NOW - timedelta(hours=30), NOW], NOW)


def test_more_raises_than_the_limit_in_the_window_wait_for_the_one_that_brings_them_under_it() -> None:
    """The limit lowered after more raises were taken: the next is taken once fewer than the limit are left."""
    recent = [NOW - timedelta(hours=hours) for hours in (1, 2, 3, 4)]

    with pytest.raises(RaisedTooOften) as refused:
        raise_allowed(ACHIEVEMENT, RaiseLimit(2), recent, NOW)

    assert refused.value.until == NOW - timedelta(hours=2) + timedelta(hours=24)


def test_the_edge_answers_429_with_retry_after_until_the_oldest_leaves_the_window() -> None:
    until = datetime.now(UTC) + timedelta(hours=19, seconds=30)

    problem = _translate(RaisedTooOften(ACHIEVEMENT, DAY, until))

    retry_after = int(problem.headers["Retry-After"])
    assert 19 * 3600 + 25 <= retry_after <= 19 * 3600 + 31
    said = problem.problem.model_dump()
    assert (said["status"], said["code"], said["retry_after"]) == (
        429,
        ProblemCode.CHALLENGE_RAISED_TOO_OFTEN,
        retry_after,
    )
    assert "challenged 3 times in the last 24 hours" in said["detail"]
    minute_after = until.replace(second=0, microsecond=0) + timedelta(minutes=1)  # 19 h 30 s on: never a whole minute
    assert f"You can raise one again from {day_and_time(minute_after)} (UK time)." in said["detail"]
    assert ProblemCode.CHALLENGE_RAISED_TOO_OFTEN in PROBLEM_CODE_EXPLANATIONS


def test_a_moment_already_past_is_retried_after_a_second() -> None:
    problem = _translate(RaisedTooOften(ACHIEVEMENT, DAY, datetime.now(UTC) - timedelta(seconds=5)))

    assert problem.headers["Retry-After"] == "1"


def test_the_domain_error_carries_no_http_status() -> None:
    error = RaisedTooOften(ACHIEVEMENT, DAY, NOW)

    assert not any(name in vars(error) for name in ("status", "status_code", "headers"))
