"""A reset the follower cannot read or complete is parked (decision 0030), not logged and left `pending` for ever:
the AOs' resets behind it are completed, and an operator retries or skips it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

import asyncpg
import pytest
from pydantic import ValidationError

from ingest.sandpit import RESET_FOLLOWER, ResetFollower, reset_applied_of
from lrs_contracts.environments import LIVE_TOPICS
from lrs_contracts.registry import encode, wrap
from lrs_contracts.sandpit import SandpitResetApplied
from lrs_platform.consumer import Message, RetryPolicy
from lrs_platform.parking import Parking, Stream

NO_WAIT = RetryPolicy(base_seconds=0.0, max_seconds=0.0)


class Store:
    def __init__(self, refused: uuid.UUID) -> None:
        self.refused = refused
        self.completed: list[uuid.UUID] = []

    async def complete(self, applied: SandpitResetApplied) -> None:
        if applied.reset_id == self.refused:
            raise asyncpg.DataError("value out of int32 range")
        self.completed.append(applied.reset_id)


class Office:
    """What the guard asks of a dead-letter office, in memory."""

    def __init__(self) -> None:
        self.parked: list[Parking] = []
        self.store = self

    def register(self, consumer: str, replayer: object = None) -> None:
        self.consumer = consumer

    async def held_streams(self, consumer: str, among: Iterable[Stream]) -> dict[Stream, tuple[int, int]]:
        return {}

    async def park(self, parkings: Sequence[Parking], *, publish: bool = True, publish_now: bool = True) -> None:
        self.parked.extend(parkings)

    async def publish_pending(self, consumer: str) -> int:
        return 0


def _applied(ao_id: str) -> SandpitResetApplied:
    return SandpitResetApplied(reset_id=uuid.uuid4(), ao_id=ao_id, learners=1, forgotten_batches=())


def _message(offset: int, applied: SandpitResetApplied) -> Message:
    value = encode(wrap(applied, source="validation", correlation_id=str(applied.reset_id)))
    return Message("lrs.batch.outcomes.v1", 0, offset, str(applied.reset_id).encode(), value)


def _follower(store: Store, office: Office) -> ResetFollower:
    return ResetFollower(store, "kafka:9092", LIVE_TOPICS, None, office, policy=NO_WAIT)  # type: ignore[arg-type]


async def test_a_reset_that_cannot_be_completed_is_parked_and_the_others_are_completed() -> None:
    stuck, next_one = _applied("RN5133"), _applied("RN9999")
    store, office = Store(refused=stuck.reset_id), Office()
    follower = _follower(store, office)

    await follower.guard.apply([_message(7, stuck), _message(8, next_one)])

    assert store.completed == [next_one.reset_id]
    [parked] = office.parked
    assert (parked.consumer, parked.offset, parked.reason) == (RESET_FOLLOWER, 7, "error")
    assert parked.dead_letter is not None
    assert (parked.dead_letter.error.split(":")[0], parked.dead_letter.attempts) == ("DataError", 3)


async def test_a_reset_that_cannot_be_read_is_parked_and_the_others_are_completed() -> None:
    next_one = _applied("RN9999")
    store, office = Store(refused=uuid.uuid4()), Office()
    unreadable = Message("lrs.batch.outcomes.v1", 0, 7, b"k", b"not json")

    await _follower(store, office).guard.apply([unreadable, _message(8, next_one)])

    assert store.completed == [next_one.reset_id]
    [parked] = office.parked
    assert parked.offset == 7 and parked.dead_letter is not None
    assert parked.dead_letter.error.startswith("invalid: ")


async def test_kafka_or_postgresql_away_is_waited_out_and_parks_nothing() -> None:
    class AwayOnce(Store):
        away = True

        async def complete(self, applied: SandpitResetApplied) -> None:
            if self.away:
                self.away = False
                raise ConnectionRefusedError
            self.completed.append(applied.reset_id)

    applied = _applied("RN5133")
    store, office = AwayOnce(uuid.uuid4()), Office()

    await _follower(store, office).guard.apply([_message(7, applied)])

    assert store.completed == [applied.reset_id]
    assert office.parked == []


def test_the_batch_views_events_are_not_read_by_the_follower_even_when_broken() -> None:
    chunk = b'{"event_type":"lrs.batch.records.decided.v1","data":{"outcomes":"broken"}}'
    assert reset_applied_of(chunk) is None


def test_an_empty_message_raises_for_the_loop_to_park() -> None:
    with pytest.raises(ValueError, match="empty message"):
        reset_applied_of(None)


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b'{"event_type":"lrs.sandpit.reset.applied.v1","data":{}}',
        b'{"event_type":"Not An Event Type"}',
    ],
)
def test_what_may_be_a_reset_and_cannot_be_read_fails_its_contract_for_the_loop_to_park(value: bytes) -> None:
    with pytest.raises(ValidationError):
        reset_applied_of(value)


def test_a_reset_reads_as_itself() -> None:
    applied = _applied("RN5133")
    assert reset_applied_of(_message(0, applied).value) == applied
