"""The challenges service's copy of the PLR log is fenced by offset (decision 0099): two replicas share one
consumer group, and one that lost a partition part-way through applying a poll must not append that poll's
older word after its new holder applied it and later ones. Whatever a poll holds below its partition's stored
position is dropped, in the transaction that applies the rest and moves the position."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import UTC, date, datetime

import asyncpg
import pytest
from tests.support.databases import throwaway_database, unique_name
from tests.support.kafka import send
from tests.support.waiting import eventually

from challenges.log_follower import ResumeFromStoredPositions, StoredPositions, record_applier, record_guard
from challenges.record_store import PlrRecord
from lrs_contracts.dead_letters import Headers
from lrs_contracts.envelope import Contract
from lrs_contracts.learner import LearnerErased, LearnersMerged
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementUpdated,
    AchievementWithdrawn,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import LEARNER_EVENTS, PLR_EVENTS
from lrs_platform.consumer import ConsumerLoop, Handler, Message, PoisonGuard
from lrs_platform.database import apply_migrations
from lrs_platform.kafka import ensure_topics, make_consumer
from lrs_platform.parking import DeadLetterOffice, ParkedMessages

pytestmark = pytest.mark.integration

ULN = "1000000043"
MASTER = "1026893096"
OTHER_MASTER = "1000000051"
KEY = AchievementKey(ao_id="RN5133", uln=ULN, qualification_number="6001166X", award_date=date(2024, 5, 20))
PROVENANCE = Provenance(batch_id=uuid.UUID("11111111-2222-4333-8444-555555555555"), line=1)


class Forgotten:
    """`forget_learners`: the erased ULNs it was handed, each call's."""

    def __init__(self) -> None:
        self.calls: list[set[str]] = []

    async def __call__(self, connection: asyncpg.Connection, ulns: Collection[str]) -> None:
        if ulns:
            self.calls.append(set(ulns))


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with throwaway_database(os.environ["DATABASE_URL"], "challenge_fencing") as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        try:
            async with pool.acquire() as connection:
                await apply_migrations(connection, "challenges", "challenges.migrations")
            yield pool
        finally:
            await pool.close()


def on_log(*events: Contract, topic: str = PLR_EVENTS.name, first: int = 0) -> list[Message]:
    return [
        Message(topic, 0, offset, ULN.encode(), encode(wrap(event, source="tests", correlation_id="tests")))
        for offset, event in enumerate(events, start=first)
    ]


def recorded(achievement_id: uuid.UUID) -> AchievementRecorded:
    return AchievementRecorded(
        achievement_id=achievement_id,
        key=KEY,
        data=AchievementData(grade="7"),
        status=ResultStatus.FINAL,
        qualification=QualificationSummary(
            title="GCSE Mathematics",
            qualification_type="GCSE (9 to 1)",
            framework="RQF",
            kind="qualification",
            awarding_organisation_name="AQA",
        ),
        provenance=PROVENANCE,
    )


def withdrawn(achievement_id: uuid.UUID) -> AchievementWithdrawn:
    return AchievementWithdrawn(achievement_id=achievement_id, key=KEY, provenance=PROVENANCE)


def reinstated(achievement_id: uuid.UUID) -> AchievementReinstated:
    return AchievementReinstated(achievement_id=achievement_id, key=KEY, provenance=PROVENANCE)


def updated(achievement_id: uuid.UUID, grade: str) -> AchievementUpdated:
    return AchievementUpdated(
        achievement_id=achievement_id,
        key=KEY,
        data=AchievementData(grade=grade),
        status=ResultStatus.FINAL,
        provenance=PROVENANCE,
    )


def erased() -> LearnerErased:
    return LearnerErased(uln=ULN, erasure_id=uuid.uuid4(), erased_by="operator:dpo", erased_at=datetime.now(UTC))


async def test_a_poll_applied_after_its_partitions_new_holder_applied_it_and_more_changes_nothing(
    pool: asyncpg.Pool,
) -> None:
    """The race the fence closes: replica A polls recorded + withdrawn and is slow to apply them; B, given the
    partition, applies that poll and the reinstatement after it; then A's transaction ends."""
    record, achievement = PlrRecord(pool), uuid.uuid4()
    stale_poll = on_log(recorded(achievement), withdrawn(achievement))
    replica_a, replica_b = record_applier(record, Forgotten()), record_applier(record, Forgotten())

    await replica_b(stale_poll)
    await replica_b(on_log(reinstated(achievement), first=2))
    await replica_a(stale_poll)

    on_record = await record.achievement(achievement)
    assert on_record is not None and on_record.withdrawn is False, "reinstated, as the log last said"
    assert await record.positions() == {(PLR_EVENTS.name, 0): 3}


async def test_a_poll_is_fenced_by_the_position_its_transaction_finds_once_the_holders_commits(
    pool: asyncpg.Pool,
) -> None:
    """A checks the position under the row's lock: while B's transaction holds it, A waits for B's commit and
    reads what B stored, not what was there when A began."""
    record, achievement = PlrRecord(pool), uuid.uuid4()
    stale_poll = on_log(recorded(achievement), withdrawn(achievement))
    await record_applier(record, Forgotten())(stale_poll)
    async with pool.acquire() as replica_b, replica_b.transaction():
        await replica_b.execute(
            "SELECT 1 FROM challenges.log_positions WHERE topic = $1 AND partition = 0 FOR UPDATE", PLR_EVENTS.name
        )
        replica_a = asyncio.ensure_future(record_applier(record, Forgotten())(stale_poll))
        await eventually(lambda: _waiting_for_a_lock(pool), within=10, what="replica A waiting for the position")
        await replica_b.execute(
            "INSERT INTO challenges.achievements_on_record"
            " (achievement_id, uln, ao_id, withdrawn, applied_in)"
            " VALUES ($1, $2, $3, false, nextval('challenges.record_applications'))",
            achievement,
            ULN,
            KEY.ao_id,
        )
        await replica_b.execute("UPDATE challenges.log_positions SET next_offset = 3 WHERE topic = $1", PLR_EVENTS.name)
    await replica_a

    on_record = await record.achievement(achievement)
    assert on_record is not None and on_record.withdrawn is False, "B's reinstatement stays the latest word"
    assert await record.positions() == {(PLR_EVENTS.name, 0): 3}


async def _waiting_for_a_lock(pool: asyncpg.Pool) -> bool:
    waiting = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return bool(waiting)


async def test_merges_and_erasures_below_the_position_are_not_applied_again(pool: asyncpg.Pool) -> None:
    record, forgotten_by_b, forgotten_by_a = PlrRecord(pool), Forgotten(), Forgotten()
    stale_poll = on_log(LearnersMerged(master_uln=MASTER, merged_uln=ULN), erased(), topic=LEARNER_EVENTS.name)
    replica_b = record_applier(record, forgotten_by_b)

    await replica_b(stale_poll)
    await replica_b(on_log(LearnersMerged(master_uln=OTHER_MASTER, merged_uln=ULN), topic=LEARNER_EVENTS.name, first=2))
    await record_applier(record, forgotten_by_a)(stale_poll)

    assert await record.learner_ulns(ULN) == {ULN, OTHER_MASTER}, "the later merge stays"
    assert forgotten_by_b.calls == [{ULN}] and forgotten_by_a.calls == [], "forgotten by the poll that applied it"


async def test_a_poll_reaching_past_the_position_applies_what_lies_past_it(pool: asyncpg.Pool) -> None:
    record, achievement = PlrRecord(pool), uuid.uuid4()
    applier = record_applier(record, Forgotten())
    await applier(on_log(recorded(achievement), withdrawn(achievement)))

    await applier(on_log(withdrawn(achievement), reinstated(achievement), first=1))  # offset 1 applied already

    on_record = await record.achievement(achievement)
    assert on_record is not None and on_record.withdrawn is False, "the reinstatement past the position applied"
    assert await record.positions() == {(PLR_EVENTS.name, 0): 3}


async def test_a_poll_applied_again_by_its_own_replica_adds_no_rows(pool: asyncpg.Pool) -> None:
    """Idempotent as before: redelivered (the positions not yet stored past it, say), a poll changes nothing."""
    record, achievement = PlrRecord(pool), uuid.uuid4()
    applier: Handler = record_applier(record, Forgotten())
    poll = on_log(recorded(achievement), withdrawn(achievement))

    await applier(poll)
    await applier(poll)

    rows = await pool.fetchval(
        "SELECT count(*) FROM challenges.achievements_on_record WHERE achievement_id = $1", achievement
    )
    assert rows == 1
    on_record = await record.achievement(achievement)
    assert on_record is not None and on_record.withdrawn is True


async def test_a_parked_message_an_operator_applies_again_is_applied_below_the_position_which_stays(
    pool: asyncpg.Pool,
) -> None:
    record, achievement, forgotten = PlrRecord(pool), uuid.uuid4(), Forgotten()
    await record_applier(record, Forgotten())(on_log(recorded(achievement), updated(achievement, "8")))
    await record.record_positions({(PLR_EVENTS.name, 0): 10})  # the loop went on past the parked message

    parked = on_log(withdrawn(achievement), first=5) + on_log(erased(), topic=LEARNER_EVENTS.name, first=6)
    await record.apply_messages(parked, forgotten, parked=True)

    on_record = await record.achievement(achievement)
    assert on_record is not None and on_record.withdrawn is True
    assert forgotten.calls == [{ULN}]
    assert await record.positions() == {(PLR_EVENTS.name, 0): 10}, "a replay moves no position"


async def test_an_operators_skip_applies_what_was_parked_behind_the_poison_though_the_loop_went_past_it(
    pool: asyncpg.Pool,
) -> None:
    record, achievement = PlrRecord(pool), uuid.uuid4()
    office = DeadLetterOffice(ParkedMessages(pool, "challenges_parked"), _publish_anywhere)
    await office.store.migrate()
    guard = record_guard("challenges.plr-record", record, Forgotten(), office)
    await guard.apply(on_log(recorded(achievement)))
    poison, behind_it = Message(PLR_EVENTS.name, 0, 1, ULN.encode(), None), on_log(withdrawn(achievement), first=2)
    await guard.apply([poison, *behind_it])
    await record.record_positions({(PLR_EVENTS.name, 0): 3})  # the loop's progress, past what it parked
    on_record = await record.achievement(achievement)
    assert on_record is not None and on_record.withdrawn is False, "the withdrawal waits behind the poison"

    [head, _] = (await office.listing("challenges.plr-record"))[0]
    result = await office.skip(head.id, "operator:tests", "no value to apply")

    assert (result.skipped, result.applied, result.still_parked) == (1, 1, 0)
    on_record = await record.achievement(achievement)
    assert on_record is not None and on_record.withdrawn is True
    assert await record.positions() == {(PLR_EVENTS.name, 0): 3}


async def test_two_replicas_on_one_partition_leave_the_achievement_as_the_log_last_said(
    pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    """The review's race with real consumers of one group: replica A is slow to apply its first poll (recorded,
    withdrawn); replica B joins, is given the partition (the range assignor orders members by client id), and
    applies that poll and the reinstatement after it; then A's apply ends."""
    topic = dataclasses.replace(PLR_EVENTS, name=unique_name("fencing.plr"))
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    group, achievement, record = unique_name("fencing"), uuid.uuid4(), PlrRecord(pool)
    office = DeadLetterOffice(ParkedMessages(pool, "challenges_parked"), _publish_nowhere)
    await office.store.migrate()
    applier = record_applier(record, Forgotten())
    holding, release, a_applied = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow_first_poll(messages: Sequence[Message]) -> None:
        if not release.is_set():
            holding.set()
            await release.wait()
            await applier(messages)
            a_applied.set()
            return
        await applier(messages)

    def replica(name: str, client_id: str, handler: Handler) -> ConsumerLoop:
        return ConsumerLoop(
            PoisonGuard(name, handler, office),
            [topic.name],
            lambda: make_consumer(kafka_bootstrap, group_id=group, client_id=client_id),
            listener=lambda consumer: ResumeFromStoredPositions(consumer, record),
            progress=StoredPositions(record),
        )

    await send(kafka_bootstrap, topic.name, _keyed(recorded(achievement), withdrawn(achievement)))
    replica_a = asyncio.create_task(replica("fencing.a", "zzz-replica-a", slow_first_poll).run())
    replica_b: asyncio.Task[None] | None = None
    try:
        await eventually(lambda: _is_set(holding), within=60, what="replica A holding its first poll")
        await send(kafka_bootstrap, topic.name, _keyed(reinstated(achievement)))
        replica_b = asyncio.create_task(replica("fencing.b", "aaa-replica-b", applier).run())
        await eventually(
            lambda: _position_at_least(record, topic.name, 3), within=90, what="replica B applying the three events"
        )
        release.set()
        await eventually(lambda: _is_set(a_applied), within=30, what="replica A's first poll applied")

        on_record = await record.achievement(achievement)
        assert on_record is not None and on_record.withdrawn is False, "reinstated, as the log last said"
    finally:
        for task in (replica_a, replica_b):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def _keyed(*events: Contract) -> list[tuple[bytes, bytes]]:
    return [(ULN.encode(), encode(wrap(event, source="tests", correlation_id="tests"))) for event in events]


async def _publish_nowhere(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
    raise AssertionError(f"nothing is parked here, yet a dead letter went to {topic}")


async def _publish_anywhere(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
    return None


async def _is_set(event: asyncio.Event) -> bool:
    return event.is_set()


async def _position_at_least(record: PlrRecord, topic: str, offset: int) -> bool:
    return (await record.positions()).get((topic, 0), 0) >= offset
