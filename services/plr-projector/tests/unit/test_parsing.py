"""Operator and read-your-writes inputs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plr_projector.operations import OperationError, Refusal
from plr_projector.plr_routes import wait_problem
from plr_projector.read_your_writes import InvalidMinOffsets, parse_min_offsets
from plr_projector.replays import parse_replay_from


def test_min_offsets_default_to_the_plr_topic_and_mean_the_event_at_that_offset() -> None:
    assert parse_min_offsets("0:41, 2:7,lrs.learner.events.v1:1:3") == {
        ("lrs.plr.events.v1", 0): 42,
        ("lrs.plr.events.v1", 2): 8,
        ("lrs.learner.events.v1", 1): 4,
    }


@pytest.mark.parametrize("text", ["x:1", "1", "other.topic:0:1"])
def test_bad_min_offsets_are_a_422(text: str) -> None:
    with pytest.raises(InvalidMinOffsets) as raised:
        parse_min_offsets(text)
    assert wait_problem(raised.value).problem.status == 422


def test_replay_from_is_an_offset_or_a_time() -> None:
    assert parse_replay_from("1200") == 1200
    assert parse_replay_from("2025-03-04T09:00:00Z") == datetime(2025, 3, 4, 9, tzinfo=UTC)
    assert parse_replay_from("2025-07-04T10:00:00+01:00") == datetime(2025, 7, 4, 9, tzinfo=UTC)
    with pytest.raises(OperationError, match="no time zone"):
        parse_replay_from("2025-03-04T09:00:00")
    with pytest.raises(OperationError):
        parse_replay_from("yesterday")
    for not_an_offset in ("²", "١٢٠٠"):  # digits to `isdigit`, not to `int` or to an operator
        with pytest.raises(OperationError):
            parse_replay_from(not_an_offset)


@pytest.mark.parametrize(
    "before_the_log", ["1969-12-31T23:00:00Z", "0001-01-01T00:00:00Z", "1970-01-01T00:30:00+01:00"]
)
def test_a_replay_from_before_1970_is_refused_before_it_starts(before_the_log: str) -> None:
    with pytest.raises(OperationError, match="before 1970-01-01T00:00:00Z") as raised:
        parse_replay_from(before_the_log)
    assert raised.value.refusal is Refusal.INVALID
    assert parse_replay_from("1970-01-01T00:00:00Z") == datetime(1970, 1, 1, tzinfo=UTC)
