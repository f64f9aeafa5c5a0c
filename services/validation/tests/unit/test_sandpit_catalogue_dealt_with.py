"""What an operator made of a parked row of live's catalogue stays made (decision 0060, `validation.sandpit_catalogue`):
the Sandpit's follower reads the topic again from its beginning at each start, and passes over a row skipped, or reads
a row retried with a corrected copy as that copy, rather than park it again. The follower keeps what the operator did
before the guard replays the stream (nothing may be awaited once the guard has let its lock go), and withdraws it when
the replay did not get past the message. Real Kafka and PostgreSQL: `tests/integration/
test_sandpit_catalogue_dealt_with_stays_dealt_with.py`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from lrs_contracts.envelope import deterministic_id
from lrs_contracts.environments import Environment, TopicNames
from lrs_contracts.reference import Framework, QualificationKind, QualificationPublished
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import REFERENCE_QUALIFICATIONS
from lrs_domain.reference import Qualification
from lrs_platform.consumer import Message
from lrs_platform.parking import DeadLetterOffice, ParkedRow, ReplayResult
from validation.reference_store import ReferenceStore
from validation.sandpit_catalogue import (
    CATALOGUE_FOLLOWER,
    CatalogueFollower,
    DealtWith,
    as_dealt_with,
    value_digest,
)

TOPICS = TopicNames(Environment.SANDPIT)
TOPIC = TOPICS.of(REFERENCE_QUALIFICATIONS)
BROKEN = "61000002"


def _row(number: str, version: int, rows_in_load: int, *, readable: bool = True) -> bytes:
    event = QualificationPublished(
        qualification_number=number,
        pathway=None,
        title=f"Qualification {number}",
        awarding_organisation_id="RN5133",
        awarding_organisation_name="Test Awarding Body",
        level="Level 2",
        qualification_type="GCSE (9 to 1)",
        framework=Framework.RQF,
        kind=QualificationKind.QUALIFICATION,
        grade_set=("9", "8", "7", "6", "5", "4", "3", "2", "1", "U"),
        source=f"reference load {version}" if readable else "hand edited",
        rows_in_load=rows_in_load,
    )
    envelope = wrap(
        event,
        source="validation",
        correlation_id=f"reference-load-{version}" if readable else "hand-edit",
        event_id=deterministic_id("reference", version, f"{number}|"),
    )
    return encode(envelope)


def _message(offset: int, number: str, value: bytes) -> Message:
    return Message(TOPIC, 0, offset, f"{number}|".encode(), value)


POISON = _message(1, BROKEN, _row(BROKEN, 2, 3, readable=False))
COPY = _row(BROKEN, 2, 3)
LOAD_2 = [_message(0, "61000001", _row("61000001", 2, 3)), POISON, _message(2, "61000004", _row("61000004", 2, 3))]


def test_a_message_skipped_is_passed_over_and_one_retried_with_a_copy_is_read_as_the_copy() -> None:
    skipped = {(0, 1): DealtWith(value_digest(POISON.value), None)}
    corrected = {(0, 1): DealtWith(value_digest(POISON.value), COPY)}

    assert as_dealt_with(POISON, skipped) is None
    assert as_dealt_with(POISON, corrected) == POISON._replace(value=COPY)
    assert as_dealt_with(LOAD_2[0], corrected) == LOAD_2[0]  # another place: as it is


def test_another_message_at_the_place_of_one_dealt_with_is_read_as_it_is() -> None:
    """A topic made anew has other messages at the same places: only the message parked is passed over."""
    skipped = {(0, 1): DealtWith(value_digest(b"what was parked there"), None)}

    assert as_dealt_with(POISON, skipped) == POISON


class _Pool:
    def __init__(self, kept: Sequence[dict[str, Any]] = ()) -> None:
        self.kept = list(kept)
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, sql: str, *args: Any) -> str:
        self.statements.append((sql.split()[0], args))
        return "OK"

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return self.kept


class _Store:
    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.still_parked: set[int] = set()

    async def get(self, parked_id: int) -> object | None:
        return object() if parked_id in self.still_parked else None


class _Office:
    def __init__(self, pool: _Pool) -> None:
        self.store = _Store(pool)
        self.replayers: dict[str, object] = {}

    def register(self, consumer: str, replayer: object | None = None) -> None:
        if replayer is not None:
            self.replayers[consumer] = replayer


class _Guard:
    """The guard's replay, as the follower calls it: what it did, and what was kept before it ran."""

    def __init__(self, pool: _Pool, result: ReplayResult | Exception) -> None:
        self._pool = pool
        self._result = result
        self.kept_before: list[str] = []

    async def replay(self, parked: ParkedRow, *, skip_head: bool, replacement: bytes | None = None) -> ReplayResult:
        self.kept_before = [verb for verb, _ in self._pool.statements]
        if isinstance(self._result, Exception):
            raise self._result
        return self._result


class _Catalogue:
    def __init__(self) -> None:
        self.replaced: list[tuple[str, int]] = []

    async def replace_catalogue(self, qualifications: Sequence[Qualification], what: str) -> bool:
        self.replaced.append((what, len(qualifications)))
        return True

    async def newest_load(self) -> None:
        return None


def _parked(message: Message) -> ParkedRow:
    return ParkedRow(
        id=7,
        consumer=CATALOGUE_FOLLOWER,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp_ms=0,
        reason="error",
        error="ValueError: the row names no reference load",
        attempts=3,
        event_id=None,
        event_type=None,
        parked_at=datetime(2026, 12, 6, tzinfo=UTC),
    )


def _follower(result: ReplayResult | Exception) -> tuple[CatalogueFollower, _Office, _Guard, _Catalogue]:
    catalogue = _Catalogue()
    follower = CatalogueFollower(cast(ReferenceStore, catalogue), "localhost:9092", TOPICS)
    office = _Office(_Pool())
    follower.consumer_loop(cast(DeadLetterOffice, office))
    guard = _Guard(office.store.pool, result)
    follower.guard = cast(Any, guard)
    return follower, office, guard, catalogue


def _result(applied: int, skipped: int, still_parked: int) -> ReplayResult:
    return ReplayResult(CATALOGUE_FOLLOWER, TOPIC, f"{BROKEN}|", applied, skipped, still_parked, None)


async def test_the_office_replays_the_followers_parked_messages_through_the_follower() -> None:
    follower, office, _, _ = _follower(_result(0, 1, 0))

    assert office.replayers[CATALOGUE_FOLLOWER] is follower


async def test_a_skip_is_kept_before_the_replay_and_the_message_is_passed_over_when_read_again() -> None:
    follower, office, guard, catalogue = _follower(_result(0, 1, 0))

    await follower.replay(_parked(POISON), skip_head=True)

    assert guard.kept_before == ["INSERT"]
    [(_, (topic, partition, offset, digest, replacement))] = office.store.pool.statements
    assert (topic, partition, offset, digest, replacement) == (TOPIC, 0, 1, value_digest(POISON.value), None)
    await follower.apply(LOAD_2)  # read again: no ValueError for the row skipped
    assert catalogue.replaced == []  # load 2: two rows of its three, the third being the one skipped


async def test_a_row_retried_with_a_corrected_copy_is_read_as_the_copy_and_its_load_is_whole() -> None:
    follower, office, guard, catalogue = _follower(_result(1, 0, 0))

    await follower.replay(_parked(POISON), skip_head=False, replacement=COPY)

    assert guard.kept_before == ["INSERT"]
    [(_, (*_, replacement))] = office.store.pool.statements
    assert replacement == COPY
    await follower.apply(LOAD_2)
    assert catalogue.replaced == [("live reference load 2", 3)]


async def test_what_the_replay_did_not_get_past_is_withdrawn_and_parks_again() -> None:
    follower, office, _, _ = _follower(ReplayResult(CATALOGUE_FOLLOWER, TOPIC, None, 0, 0, 1, "ValueError: …"))
    office.store.still_parked.add(7)

    await follower.replay(_parked(POISON), skip_head=False, replacement=_row(BROKEN, 2, 3, readable=False))

    assert [verb for verb, _ in office.store.pool.statements] == ["INSERT", "DELETE"]
    with pytest.raises(ValueError, match="names no reference load"):
        await follower.apply([POISON])


async def test_a_replay_that_failed_keeps_nothing() -> None:
    follower, office, _, _ = _follower(ConnectionError("the database went away"))

    with pytest.raises(ConnectionError):
        await follower.replay(_parked(POISON), skip_head=True)

    assert [verb for verb, _ in office.store.pool.statements] == ["INSERT", "DELETE"]
    with pytest.raises(ValueError, match="names no reference load"):
        await follower.apply([POISON])


async def test_a_retry_of_the_message_as_it_is_keeps_nothing() -> None:
    follower, office, _, _ = _follower(_result(1, 0, 0))

    await follower.replay(_parked(POISON), skip_head=False)

    assert office.store.pool.statements == []
