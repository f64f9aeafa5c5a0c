"""Following a batch through the logs (tracer walk, findings 1 and 2): the shared consumer's `message_parked` names the
batch, event id and event type its message names, and the batch id a junk message on the outcomes log is keyed by;
each message held behind a poison says so once, `message_held`, naming the same. A ULN is only ever masked."""

from __future__ import annotations

import json
import uuid
from collections.abc import MutableMapping
from typing import Any

import pytest
from libs.platform.tests.unit.test_consumer_guard import NO_WAIT, Effects, MemoryParked
from structlog.testing import capture_logs

from lrs_platform.consumer import Message, PoisonGuard, key_named
from lrs_platform.parking import DeadLetterOffice

OUTCOMES = "lrs.batch.outcomes.v1"
PLR = "lrs.plr.events.v1"
BATCH = "b043e406-1d2c-4e6f-9a0b-7c8d9e0f1a2b"
ULN = "1188603832"


@pytest.fixture
def office() -> DeadLetterOffice:
    async def publish(*_: Any) -> None:
        return None

    return DeadLetterOffice(MemoryParked(), publish)  # type: ignore[arg-type]


def _event(event_type: str, data: dict[str, Any]) -> tuple[str, bytes]:
    event_id = str(uuid.uuid4())
    return event_id, json.dumps({"event_id": event_id, "event_type": event_type, "data": data}).encode()


def _lines(logs: list[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [log for log in logs if log["event"] == event]


async def test_junk_under_a_batch_key_and_the_outcomes_held_behind_it_name_the_batch(office: DeadLetterOffice) -> None:
    completed_id, completed = _event("lrs.batch.completed.v1", {"batch_id": BATCH, "ao_id": "RN9093"})
    junk = Message(OUTCOMES, 2, 4, BATCH.encode(), b"\xfe\xffpoison, not json")
    held = Message(OUTCOMES, 2, 5, BATCH.encode(), completed)

    with capture_logs() as logs:
        await PoisonGuard("notifier", Effects(), office, NO_WAIT).apply([junk, held])

    (parked,) = _lines(logs, "message_parked")
    assert (parked["batch_id"], parked["key"], parked["offset"]) == (BATCH, BATCH, 4)
    assert "event_id" not in parked and "event_type" not in parked  # junk names none
    (said,) = _lines(logs, "message_held")
    assert (said["batch_id"], said["event_id"], said["event_type"]) == (BATCH, completed_id, "lrs.batch.completed.v1")
    assert (said["consumer"], said["topic"], said["partition"], said["offset"], said["log_level"]) == (
        "notifier",
        OUTCOMES,
        2,
        5,
        "warning",
    )


async def test_a_later_poll_s_message_held_behind_a_parked_key_is_said_too(office: DeadLetterOffice) -> None:
    guard = PoisonGuard("reporting", Effects(), office, NO_WAIT)
    await guard.apply([Message(OUTCOMES, 0, 1, BATCH.encode(), b"poison")])
    _, later = _event("lrs.batch.completed.v1", {"batch_id": BATCH})

    with capture_logs() as logs:
        await guard.apply([Message(OUTCOMES, 0, 2, BATCH.encode(), later), Message(OUTCOMES, 1, 7, b"other", b"x")])

    assert [(line["batch_id"], line["offset"]) for line in _lines(logs, "message_held")] == [(BATCH, 2)]


async def test_a_plr_event_names_its_provenance_s_batch_and_its_learner_masked(office: DeadLetterOffice) -> None:
    event_id, poison = _event(
        "lrs.achievement.recorded.v1",
        {"key": {"uln": ULN}, "grade": "poison", "provenance": {"batch_id": BATCH, "line": 6}},
    )
    _, behind = _event("lrs.achievement.recorded.v1", {"key": {"uln": ULN}, "provenance": {"batch_id": BATCH}})

    with capture_logs() as logs:
        await PoisonGuard("challenges.plr-record", Effects(), office, NO_WAIT).apply(
            [Message(PLR, 3, 27, ULN.encode(), poison), Message(PLR, 3, 28, ULN.encode(), behind)]
        )

    (parked,) = _lines(logs, "message_parked")
    assert (parked["batch_id"], parked["event_id"], parked["event_type"]) == (
        BATCH,
        event_id,
        "lrs.achievement.recorded.v1",
    )
    (held,) = _lines(logs, "message_held")
    assert parked["uln"] == held["uln"] == "******3832"
    assert "key" not in parked and ULN not in str(logs)


async def test_a_message_naming_no_batch_is_parked_without_one(office: DeadLetterOffice) -> None:
    # a readable event of another kind on the outcomes log (a Sandpit reset's, keyed by its own id): no batch guessed
    reset = str(uuid.uuid4())
    _, applied = _event("lrs.sandpit.reset.applied.v1", {"reset_id": reset, "note": "poison"})

    with capture_logs() as logs:
        await PoisonGuard("ingest.sandpit-reset", Effects(), office, NO_WAIT).apply(
            [Message(OUTCOMES, 0, 9, reset.encode(), applied)]
        )

    (parked,) = _lines(logs, "message_parked")
    assert "batch_id" not in parked and parked["key"] == reset


@pytest.mark.parametrize(
    ("key", "named"),
    [
        (None, {}),
        (ULN.encode(), {"uln": "******3832"}),
        (BATCH.encode(), {"key": BATCH}),
        (b"RN9093", {"key": "RN9093"}),
        (b"Jane Smith", {"key": "**********"}),
    ],
)
def test_a_key_is_named_masked_unless_it_is_an_id(key: bytes | None, named: dict[str, str]) -> None:
    assert key_named(key) == named
