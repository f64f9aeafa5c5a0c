"""The loop that fills challenges' achievement data (`PendingChallengeData.run`) backs off through an outage: a
failed round is tried again after `every_seconds`, then twice as long after each failure in a row, at most a minute,
and the first round that works again says so once. It logged `challenge_data_not_filled` every second through a
PostgreSQL stop, about 3,600 warnings an hour per replica (sre walk, finding 5)."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any, cast

import pytest
from structlog.testing import capture_logs

from challenges.log_follower import LogEnds, PendingChallengeData
from challenges.record_store import PlrRecord


class _Done(Exception):
    """Ends the loop once the test's rounds are over."""


class _Record:
    """The record, up or down as each round of `rounds` says (True: up, and no challenge waits)."""

    def __init__(self, rounds: list[bool]) -> None:
        self._rounds: Iterator[bool] = iter(rounds)

    async def challenges_data_pending(self) -> bool:
        if not next(self._rounds):
            raise ConnectionRefusedError("PostgreSQL away")
        return False


async def _slept_through(rounds: list[bool]) -> tuple[list[float], list[MutableMapping[str, Any]]]:
    """The loop's waits after each of `rounds` (no real sleep), and what it logged."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == len(rounds):
            raise _Done

    filler = PendingChallengeData(
        cast(PlrRecord, _Record(rounds)),
        cast(LogEnds, None),
        every_seconds=1.0,
        idle_every_seconds=600.0,
        sleep=sleep,
    )
    with capture_logs() as logs, pytest.raises(_Done):
        await filler.run()
    return slept, logs


async def test_failed_rounds_in_a_row_wait_twice_as_long_each_time_at_most_a_minute() -> None:
    slept, logs = await _slept_through([False] * 9)

    assert slept == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    failed = [log for log in logs if log["event"] == "challenge_data_not_filled"]
    assert len(failed) == 9
    assert [(log["failures"], log["retry_in"], log["error"]) for log in failed][:2] == [
        (1, 1, "ConnectionRefusedError"),
        (2, 2, "ConnectionRefusedError"),
    ]


async def test_a_round_that_works_again_says_so_once_and_the_next_outage_starts_again_from_every_seconds() -> None:
    up, down = True, False
    slept, logs = await _slept_through([down] * 3 + [up] * 2 + [down] * 2 + [up])

    assert slept == [1, 2, 4, 600, 600, 1, 2, 600]
    recovered = [log for log in logs if log["event"] == "challenge_data_filling_recovered"]
    assert [(log["failures"], log["log_level"]) for log in recovered] == [(3, "info"), (2, "info")]
