"""The challenges service's copy of the PLR log in PostgreSQL: each poll's changes appended, the same
answers as applying the polls' changes one by one (decision 0022: withdrawn is last-writer-wins in log
order, an update leaves it as stored; decisions 0089, 0099)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from tests.support.databases import throwaway_database

from challenges.domain import AchievementOnRecord, BatchOnRecord
from challenges.plr_log import AchievementFacts, BatchTouch, RecordChanges
from challenges.record_store import PlrRecord
from lrs_platform.database import apply_migrations

pytestmark = pytest.mark.integration

AO = "RN5133"
ULN = "1000000043"
MASTER = "1026893096"
QAN = "6001166X"
AWARDED = date(2024, 5, 20)


@pytest.fixture
async def record() -> AsyncIterator[PlrRecord]:
    async with throwaway_database(os.environ["DATABASE_URL"], "challenge_record") as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            async with pool.acquire() as connection:
                await apply_migrations(connection, "challenges", "challenges.migrations")
            yield PlrRecord(pool)
        finally:
            await pool.close()


def poll(*changes: AchievementFacts, merges: dict[str, str] | None = None) -> RecordChanges:
    folded = RecordChanges(merges=dict(merges or {}))
    for change in changes:
        folded.add(change)
    return folded


async def test_each_poll_keeps_ulns_aos_and_withdrawals_as_the_log_says(record: PlrRecord) -> None:
    recorded, withdrawn, updated_only = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await record.apply(
        poll(
            AchievementFacts(recorded, ULN, AO, False),
            AchievementFacts(withdrawn, ULN, AO, False),
            AchievementFacts(updated_only, ULN, AO, None),  # an update whose recording is not applied yet
        )
    )
    await record.apply(
        poll(
            AchievementFacts(withdrawn, ULN, AO, True),
            AchievementFacts(recorded, ULN, AO, None),
            merges={ULN: MASTER},
        )
    )
    await record.apply(poll(AchievementFacts(withdrawn, ULN, AO, None), AchievementFacts(updated_only, ULN, AO, True)))

    assert await record.achievement(recorded) == AchievementOnRecord(recorded, ULN, AO, False)
    assert await record.achievement(withdrawn) == AchievementOnRecord(withdrawn, ULN, AO, True)
    assert await record.achievement(updated_only) == AchievementOnRecord(updated_only, ULN, AO, True)
    assert await record.learner_ulns(ULN) == {ULN, MASTER}

    # applied again (a redelivered poll): the same rows
    await record.apply(poll(AchievementFacts(withdrawn, ULN, AO, None)))
    await record.apply(poll(AchievementFacts(withdrawn, ULN, AO, False), merges={ULN: "1000000051"}))
    assert await record.achievement(withdrawn) == AchievementOnRecord(withdrawn, ULN, AO, False)
    assert await record.learner_ulns(ULN) == {ULN, "1000000051"}


async def test_a_poll_applied_again_after_later_ones_leaves_the_rows_the_log_said_then(record: PlrRecord) -> None:
    first, second, updated_only = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    recording = poll(
        AchievementFacts(first, ULN, AO, False),
        AchievementFacts(second, ULN, AO, True),  # recorded, then withdrawn in the same poll
        AchievementFacts(updated_only, ULN, AO, None),
    )
    await record.apply(recording)
    assert await record.achievement(first) == AchievementOnRecord(first, ULN, AO, False)
    assert await record.achievement(second) == AchievementOnRecord(second, ULN, AO, True)
    assert await record.achievement(updated_only) == AchievementOnRecord(updated_only, ULN, AO, False)

    await record.apply(poll(AchievementFacts(first, ULN, AO, True), AchievementFacts(updated_only, ULN, AO, True)))
    # the first poll again (redelivered): its rows are there already, and are appended again
    await record.apply(recording)
    assert await record.achievement(first) == AchievementOnRecord(first, ULN, AO, False)
    assert await record.achievement(second) == AchievementOnRecord(second, ULN, AO, True)
    assert await record.achievement(updated_only) == AchievementOnRecord(updated_only, ULN, AO, True)


async def test_a_poll_that_records_every_achievement_is_copied_in_and_applied_again_leaves_the_same_rows(
    record: PlrRecord,
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    recording = poll(
        AchievementFacts(first, ULN, AO, False),
        AchievementFacts(second, MASTER, AO, True),  # recorded, then withdrawn in the same poll
    )
    await record.apply(recording)
    await record.apply(poll(AchievementFacts(first, ULN, AO, True)))
    await record.apply(recording)  # redelivered: its rows are there already
    assert await record.achievement(first) == AchievementOnRecord(first, ULN, AO, False)
    assert await record.achievement(second) == AchievementOnRecord(second, MASTER, AO, True)


async def test_positions_of_a_poll_move_only_forward(record: PlrRecord) -> None:
    await record.record_positions({("lrs.plr.events.v1", 0): 10, ("lrs.plr.events.v1", 1): 5})
    await record.record_positions(
        {("lrs.plr.events.v1", 0): 7, ("lrs.plr.events.v1", 1): 9, ("lrs.learner.events.v1", 0): 3}
    )
    assert await record.positions() == {
        ("lrs.plr.events.v1", 0): 10,
        ("lrs.plr.events.v1", 1): 9,
        ("lrs.learner.events.v1", 0): 3,
    }


async def test_a_record_from_before_it_kept_facts_and_batches_is_read_again_from_the_log() -> None:
    """Migration 0008 (decision 0142): the record learns each achievement's facts and the batches that touched
    it by reading the log again: an older record, appended to or not (0099), is emptied with its positions."""
    withdrawn, kept = uuid.uuid4(), uuid.uuid4()
    async with throwaway_database(os.environ["DATABASE_URL"], "challenge_record_upgrade") as url:
        connection = await asyncpg.connect(url)
        try:
            await apply_migrations(connection, "challenges", "challenges.migrations")
            # the record as migrations 0001-0004 left it, holding rows and positions
            await connection.execute(
                "DROP TABLE challenges.achievements_on_record; DROP SEQUENCE challenges.record_applications;"
                " CREATE TABLE challenges.achievements_on_record (achievement_id uuid PRIMARY KEY,"
                " uln text NOT NULL, ao_id text NOT NULL, withdrawn boolean NOT NULL);"
                " DELETE FROM challenges.schema_migrations WHERE version IN (5, 8, 12);"
                " INSERT INTO challenges.log_positions VALUES ('lrs.plr.events.v1', 0, 42)"
            )
            await connection.executemany(
                "INSERT INTO challenges.achievements_on_record VALUES ($1, $2, $3, $4)",
                [(withdrawn, ULN, AO, True), (kept, MASTER, AO, False)],
            )
            applied = await apply_migrations(connection, "challenges", "challenges.migrations")
        finally:
            await connection.close()
        assert applied == [
            "0005_record_appended.sql",
            "0008_achievement_facts_and_batch_touches.sql",
            "0012_achievement_data.sql",  # its columns on the table made anew
        ]
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            record = PlrRecord(pool)
            assert await record.positions() == {}, "the log is read again from its beginning"
            assert await record.achievement(withdrawn) is None

            await record.apply(
                poll(
                    AchievementFacts(withdrawn, ULN, AO, True, QAN, AWARDED),
                    AchievementFacts(kept, MASTER, AO, False, QAN, AWARDED, "7", "GCSE Mathematics"),
                )
            )
            assert await record.achievement(withdrawn) == AchievementOnRecord(withdrawn, ULN, AO, True, QAN, AWARDED)
            assert (await record.achievement(kept)) == AchievementOnRecord(
                kept, MASTER, AO, False, QAN, AWARDED, "7", "GCSE Mathematics"
            )
        finally:
            await pool.close()


async def test_an_achievements_facts_are_the_latest_the_log_gave_each_of_them(record: PlrRecord) -> None:
    achievement = uuid.uuid4()
    await record.apply(poll(AchievementFacts(achievement, ULN, AO, False, QAN, AWARDED, "7", "GCSE Mathematics")))
    await record.apply(poll(AchievementFacts(achievement, ULN, AO, None, QAN, AWARDED, "8")))  # an update
    await record.apply(poll(AchievementFacts(achievement, ULN, AO, True, QAN, AWARDED)))  # a withdrawal
    assert await record.achievement(achievement) == AchievementOnRecord(
        achievement, ULN, AO, True, QAN, AWARDED, "8", "GCSE Mathematics"
    )


async def test_the_batches_touching_a_learners_qualification_are_found_by_any_of_their_ulns(record: PlrRecord) -> None:
    ao = f"RN{uuid.uuid4().int % 10**6}"
    before, correcting, other_learner, other_qualification = (uuid.uuid4() for _ in range(4))
    raised = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    touches = {
        BatchTouch(before, ao, ULN, QAN, raised - timedelta(days=1)),
        BatchTouch(correcting, ao, MASTER, QAN, raised + timedelta(hours=1)),  # under the master ULN: one person
        BatchTouch(other_learner, ao, "6936002314", QAN, raised + timedelta(hours=2)),
        BatchTouch(other_qualification, ao, ULN, "60012345", raised + timedelta(hours=2)),
    }
    await record.apply(RecordChanges(touches=touches))
    await record.apply(RecordChanges(touches=touches))  # a poll applied again changes no answer

    since = await record.batches_touching(ao, QAN, {ULN, MASTER}, since=raised)
    assert since == [BatchOnRecord(correcting, raised + timedelta(hours=1))]
    assert await record.batches_touching(ao, QAN, {ULN, MASTER}, batch_id=before) == [
        BatchOnRecord(before, raised - timedelta(days=1))
    ]
    assert await record.batches_touching(ao, QAN, {ULN, MASTER}, batch_id=other_learner) == []
    assert await record.batches_touching("RN0", QAN, {ULN, MASTER}, batch_id=correcting) == []
