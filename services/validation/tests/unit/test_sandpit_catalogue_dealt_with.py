"""What an operator made of a parked row of live's catalogue stays made (decision 0060, `validation.sandpit_catalogue`):
the Sandpit's follower reads the topic again from its beginning at each start, and passes over a row skipped, or reads
a row retried with a corrected copy as that copy, rather than park it again. The follower keeps what the operator did
before the guard replays the stream (nothing may be awaited once the guard has let its lock go), in the retry's own
transaction, and withdraws it when the replay did not get past the message; its map follows once the office has
committed. Real Kafka and PostgreSQL: `tests/integration/test_sandpit_catalogue_dealt_with_stays_dealt_with.py`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

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
    """The dealt-with table, through the pool or the retry's transaction (`ParkedMessages.executor`): what went
    through it (`statements`), what is committed (`kept`), and what commits with the retry (`pending`)."""

    def __init__(self, kept: Sequence[dict[str, Any]] = ()) -> None:
        self.kept = list(kept)
        self.statements: list[tuple[str, tuple[Any, ...]]] = []
        self.pending: list[tuple[str, tuple[Any, ...]]] = []
        self.reading: asyncio.Event | None = None  # set: a read of the table waits for it
        self.read_begun = asyncio.Event()
        self.asked = 0  # rows asked for one by one (`fetchrow`)

    async def execute(self, sql: str, *args: Any) -> str:
        self.statements.append((sql.split()[0], args))
        self.pending.append((sql.split()[0], args))
        return "OK"

    def commit(self) -> None:
        for verb, (_, partition, offset, *dealt) in self.pending:
            self.kept = [row for row in self.kept if (row["partition"], row["offset"]) != (partition, offset)]
            if verb == "INSERT":
                value_sha256, replacement = dealt
                self.kept.append(
                    {"partition": partition, "offset": offset, "value_sha256": value_sha256, "replacement": replacement}
                )
        self.pending = []

    async def fetchrow(self, sql: str, topic: str, partition: int, offset: int) -> dict[str, Any] | None:
        self.asked += 1
        return next((row for row in self.kept if (row["partition"], row["offset"]) == (partition, offset)), None)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        kept = list(self.kept)  # as the read's snapshot found the table
        self.read_begun.set()
        if self.reading is not None:
            await self.reading.wait()
        return kept


class _Store:
    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.still_parked: set[int] = set()

    def executor(self) -> _Pool:
        return self.pool

    async def get(self, parked_id: int) -> object | None:
        return object() if parked_id in self.still_parked else None


class _Office:
    """The office's retry or skip: what the replayer asks to run after the commit waits for `commit` (not run when
    the office's transaction is undone)."""

    def __init__(self, pool: _Pool) -> None:
        self.store = _Store(pool)
        self.replayers: dict[str, object] = {}
        self.after_commit: list[Callable[[], Awaitable[None]]] = []

    def register(self, consumer: str, replayer: object | None = None) -> None:
        if replayer is not None:
            self.replayers[consumer] = replayer

    def after_action(self, then: Callable[[], Awaitable[None]]) -> bool:
        self.after_commit.append(then)
        return True

    async def commit(self) -> None:
        self.store.pool.commit()
        waiting, self.after_commit = self.after_commit, []
        for then in waiting:
            await then()

    def roll_back(self) -> None:
        self.store.pool.pending = []
        self.after_commit = []


class _Guard:
    """The guard's replay, as the follower calls it: what it did, and what was kept before it ran."""

    def __init__(self, pool: _Pool, result: ReplayResult | Exception) -> None:
        self._pool = pool
        self._result = result
        self.kept_before: list[str] = []
        self.handler: Callable[[Sequence[Message]], Awaitable[None]] | None = None  # set: applies the message named

    async def replay(self, parked: ParkedRow, *, skip_head: bool, replacement: bytes | None = None) -> ReplayResult:
        self.kept_before = [verb for verb, _ in self._pool.statements]
        if self.handler is not None and not skip_head:
            named = Message.parked(parked)
            try:
                await self.handler([named if replacement is None else named._replace(value=replacement)])
            except ValueError as failure:  # failed again: parked still, its error said
                return ReplayResult(CATALOGUE_FOLLOWER, TOPIC, f"{BROKEN}|", 0, 0, 1, str(failure))
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
    await office.commit()
    await follower.apply(LOAD_2)  # read again: no ValueError for the row skipped
    assert catalogue.replaced == []  # load 2: two rows of its three, the third being the one skipped


async def test_a_row_retried_with_a_corrected_copy_is_read_as_the_copy_and_its_load_is_whole() -> None:
    follower, office, guard, catalogue = _follower(_result(1, 0, 0))

    await follower.replay(_parked(POISON), skip_head=False, replacement=COPY)

    assert guard.kept_before == ["INSERT"]
    [(_, (*_, replacement))] = office.store.pool.statements
    assert replacement == COPY
    await office.commit()
    await follower.apply(LOAD_2)
    assert catalogue.replaced == [("live reference load 2", 3)]


async def test_what_the_replay_did_not_get_past_is_withdrawn_and_parks_again() -> None:
    follower, office, _, _ = _follower(ReplayResult(CATALOGUE_FOLLOWER, TOPIC, None, 0, 0, 1, "ValueError: …"))
    office.store.still_parked.add(7)

    await follower.replay(_parked(POISON), skip_head=False, replacement=_row(BROKEN, 2, 3, readable=False))

    assert [verb for verb, _ in office.store.pool.statements] == ["INSERT", "DELETE"]
    await office.commit()
    with pytest.raises(ValueError, match="names no reference load"):
        await follower.apply([POISON])


async def test_a_replay_that_failed_keeps_nothing() -> None:
    """The row went through the office's transaction, which the failure undoes: nothing to withdraw by hand."""
    follower, office, _, _ = _follower(ConnectionError("the database went away"))

    with pytest.raises(ConnectionError):
        await follower.replay(_parked(POISON), skip_head=True)

    assert office.after_commit == []
    with pytest.raises(ValueError, match="names no reference load"):
        await follower.apply([POISON])


async def test_a_retry_of_the_message_as_it_is_withdraws_what_was_kept_for_its_place() -> None:
    follower, office, guard, _ = _follower(_result(1, 0, 0))

    await follower.replay(_parked(POISON), skip_head=False)

    assert guard.kept_before == ["DELETE"]
    [(_, (topic, partition, offset))] = office.store.pool.statements
    assert (topic, partition, offset) == (TOPIC, 0, 1)


async def test_a_skip_the_office_undid_after_the_replay_leaves_a_later_retry_a_retry() -> None:
    """The office's transaction undone after the follower's replay returned (`record_action` or the commit failing,
    the request cancelled): the message is parked still, and the follower's map was never told of the skip. A later
    retry of the message as it is must read it as it is, and fail again, not pass over it as the skip said."""
    follower, office, guard, _ = _follower(_result(0, 1, 0))
    await follower.replay(_parked(POISON), skip_head=True)
    office.roll_back()  # the INSERT with it

    guard.handler = follower.apply
    retried = await follower.replay(_parked(POISON), skip_head=False)
    assert (retried.applied, retried.still_parked) == (0, 1)
    with pytest.raises(ValueError, match="names no reference load"):
        await follower.apply([POISON])  # as a restart's read of the topic finds it: parked again


class _Consumer:
    """A client rebuilt, placed at the topic's beginning."""

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        return None

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        return None

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 3)


async def _start(follower: CatalogueFollower, monkeypatch: pytest.MonkeyPatch) -> None:
    """The follower's start (or a client rebuilt): placed at the beginning, the dealt-with table read."""

    async def partitions() -> list[TopicPartition]:
        return [TopicPartition(TOPIC, 0)]

    monkeypatch.setattr(follower, "_partitions", partitions)
    await follower._from_the_beginning(cast(AIOKafkaConsumer, _Consumer()))


async def test_a_retry_as_it_is_reads_the_message_as_it_is_over_what_was_kept_for_its_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row kept for the place by an older follower, though the skip it stood for was undone: the retry reads the
    message as the operator hands it over (and, the retry committed, the row is gone from the map too)."""
    follower, office, guard, _ = _follower(_result(1, 0, 0))
    office.store.pool.kept = [
        {"partition": 0, "offset": 1, "value_sha256": value_digest(POISON.value), "replacement": None}
    ]
    await _start(follower, monkeypatch)
    await follower.apply([POISON])  # passed over, as the stale row says

    guard.handler = follower.apply
    retried = await follower.replay(_parked(POISON), skip_head=False)
    assert (retried.applied, retried.still_parked) == (0, 1)
    await office.commit()  # what a retry that failed again commits: the row withdrawn
    with pytest.raises(ValueError, match="names no reference load"):
        await follower.apply([POISON])


async def test_a_skip_committed_while_the_table_is_read_at_a_start_is_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client rebuilt reads the table again: a read taken before a skip committed does not take the skip away."""
    follower, office, _, _ = _follower(_result(0, 1, 0))
    office.store.pool.reading = asyncio.Event()
    reading = asyncio.create_task(_start(follower, monkeypatch))
    await office.store.pool.read_begun.wait()  # the read's snapshot holds nothing yet

    await follower.replay(_parked(POISON), skip_head=True)
    await office.commit()
    office.store.pool.reading.set()
    await reading

    await follower.apply([POISON])  # passed over: the skip stands
    assert office.store.pool.asked == 0  # the map holds it: the table not asked again


async def test_a_skip_committed_by_another_replica_is_passed_over_though_this_one_was_never_told() -> None:
    """The Sandpit validation may run more than one replica, each following the topic: a row another replica's office
    skipped, and this follower reads again (its client rebuilt after it had read the table), is asked of the table
    before it is parked again."""
    follower, office, _, _ = _follower(_result(0, 1, 0))
    office.store.pool.kept = [
        {"partition": 0, "offset": 1, "value_sha256": value_digest(POISON.value), "replacement": None}
    ]

    await follower.apply([POISON])  # passed over: no ValueError

    follower, office, _, catalogue = _follower(_result(1, 0, 0))
    office.store.pool.kept = [
        {"partition": 0, "offset": 1, "value_sha256": value_digest(POISON.value), "replacement": COPY}
    ]
    await follower.apply(LOAD_2)  # read as the copy: load 2 whole
    assert catalogue.replaced == [("live reference load 2", 3)]
