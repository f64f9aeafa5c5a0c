"""The projector's metrics updater backs off through an outage: a failed update is tried again after the interval,
then twice as long after each failure in a row, at most a minute, and the first update that works again says so
once and goes back to the interval. It logged `metrics_update_failed` every 2 s through a PostgreSQL stop (sre
walk, finding 5)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, MutableMapping
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from plr_projector.bootstrap import METRICS_RETRY_MAX_SECONDS, _publish_metrics, _update_metrics
from plr_projector.endpoints import Projector
from plr_projector.metrics import Recount


class _Done(Exception):
    """Ends the loop once the test's rounds are over."""


class _Connection:
    pass


class _Model:
    schema = "plr_metrics_back_off"

    async def parked_changes(self, connection: _Connection) -> int:
        return 0

    async def parked_depth(self, connection: _Connection) -> dict[str, int]:
        return {}

    oldest: datetime | None = None

    async def oldest_parked_at(self, connection: _Connection) -> datetime | None:
        return self.oldest


class _Pool:
    """PostgreSQL, up or down as each round of `rounds` says (True: up)."""

    def __init__(self, rounds: list[bool]) -> None:
        self.rounds: Iterator[bool] = iter(rounds)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[_Connection]:
        if not next(self.rounds):
            raise ConnectionRefusedError("PostgreSQL away")
        yield _Connection()


class _Attempts:
    consumer = "plr-projector.plr_metrics_back_off"


class _Live:
    model = _Model()
    attempts = _Attempts()
    parked_streams: dict[Any, Any] = {}

    def lag(self) -> dict[str, dict[str, Any]]:
        return {}


class _Rebuilds:
    def status(self) -> dict[str, Any]:
        return {"state": "idle"}


class _FakeProjector:
    def __init__(self, rounds: list[bool]) -> None:
        self.pool = _Pool(rounds)
        self.live = _Live()
        self.model = self.live.model
        self.rebuilds = _Rebuilds()
        self.parked_depth = {"error": 0, "blocked": 0}


async def _slept_through(
    rounds: list[bool], interval: float = 2.0
) -> tuple[list[float], list[MutableMapping[str, Any]]]:
    """The loop's waits after each of `rounds` (no real sleep), and what it logged."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == len(rounds):
            raise _Done

    with capture_logs() as logs, pytest.raises(_Done):
        await _publish_metrics(cast(Projector, _FakeProjector(rounds)), interval, sleep=sleep)
    return slept, logs


async def test_failed_updates_in_a_row_wait_twice_as_long_each_time_at_most_a_minute() -> None:
    slept, logs = await _slept_through([False] * 8)

    assert slept == [2, 4, 8, 16, 32, 60, 60, 60]
    assert METRICS_RETRY_MAX_SECONDS == 60
    failed = [log for log in logs if log["event"] == "metrics_update_failed"]
    assert [(log["failures"], log["retry_in"], log["error"]) for log in failed][:2] == [
        (1, 2, "ConnectionRefusedError"),
        (2, 4, "ConnectionRefusedError"),
    ]
    assert all(log["log_level"] == "warning" for log in failed)


async def test_an_update_that_works_again_says_so_once_and_the_next_outage_starts_again_from_the_interval() -> None:
    up, down = True, False
    slept, logs = await _slept_through([down] * 4 + [up] * 3 + [down] * 2 + [up])

    assert slept == [2, 4, 8, 16, 2, 2, 2, 2, 4, 2]
    recovered = [log for log in logs if log["event"] == "metrics_update_recovered"]
    assert [(log["failures"], log["log_level"]) for log in recovered] == [(4, "info"), (2, "info")]


async def test_updates_that_work_keep_to_the_interval_and_log_nothing() -> None:
    slept, logs = await _slept_through([True] * 3, interval=5.0)

    assert slept == [5, 5, 5]
    assert logs == []


async def test_the_oldest_parked_event_is_exported_as_other_consumers_export_it() -> None:
    """The projector counts its own parked events, so it set no `lrs_consumer_oldest_parked_timestamp_seconds`:
    an alert on a dead letter parked more than a day ago could not see the projector's (sre walk, finding 6)."""
    projector = _FakeProjector([True, True])
    consumer = projector.live.attempts.consumer
    projector.live.model.oldest = datetime(2026, 12, 6, 5, 50, tzinfo=UTC)

    await _update_metrics(cast(Projector, projector), Recount(every_seconds=0))
    parked_since = REGISTRY.get_sample_value("lrs_consumer_oldest_parked_timestamp_seconds", {"consumer": consumer})
    projector.live.model.oldest = None
    await _update_metrics(cast(Projector, projector), Recount(every_seconds=0))
    none_parked = REGISTRY.get_sample_value("lrs_consumer_oldest_parked_timestamp_seconds", {"consumer": consumer})

    assert parked_since == datetime(2026, 12, 6, 5, 50, tzinfo=UTC).timestamp()
    assert none_parked == 0
