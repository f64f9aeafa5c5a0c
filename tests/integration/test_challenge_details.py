"""The challenges service in PostgreSQL (decision 0183): an achievement's status as the log last said it, kept by
the challenge raised on it; the ULNs of several learners read in one statement, as each learner's are; and a record
from before statuses were kept read again from the log."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import asyncpg
import httpx
import pytest
from tests.integration.test_challenges import challenges_app, raise_once_known, random_ao  # noqa: F401 - fixture
from tests.integration.test_notifier import bearer
from tests.support.learners import random_uln
from tests.support.projector import Events, produce, record

from challenges.domain import Challenge, ChallengeState
from challenges.plr_log import AchievementFacts, RecordChanges
from challenges.record_store import PlrRecord
from challenges.store import ChallengeStore
from lrs_contracts.challenge import ChallengedAchievement
from lrs_contracts.plr import ResultStatus
from lrs_platform.database import apply_migrations

pytestmark = pytest.mark.integration

AO, ULN, QAN, AWARDED = "RN5133", "1000000043", "6001166X", date(2024, 5, 20)


@pytest.fixture
async def migrated(pool: asyncpg.Pool) -> asyncpg.Pool:
    async with pool.acquire() as connection:
        await apply_migrations(connection, "challenges", "challenges.migrations")
    return pool


def poll(facts: AchievementFacts, status: str | None = None, merges: dict[str, str] | None = None) -> RecordChanges:
    changes = RecordChanges(merges=dict(merges or {}))
    changes.add(facts)
    if status is not None:
        changes.statuses[facts.achievement_id] = status
    return changes


async def test_an_achievements_status_is_the_latest_the_log_gave(migrated: asyncpg.Pool) -> None:
    record = PlrRecord(migrated)
    achievement, unsaid = uuid.uuid4(), uuid.uuid4()

    await record.apply(poll(AchievementFacts(achievement, ULN, AO, False, QAN, AWARDED, "7", "GCSE Maths"), "P"))
    provisional = await record.achievement(achievement)
    await record.apply(poll(AchievementFacts(achievement, ULN, AO, True, QAN, AWARDED)))  # a withdrawal says none
    still = await record.achievement(achievement)
    await record.apply(poll(AchievementFacts(achievement, ULN, AO, None, QAN, AWARDED, "8"), "F"))  # superseded
    await record.apply(poll(AchievementFacts(unsaid, ULN, AO, False, QAN, AWARDED, "7")))

    assert provisional is not None and provisional.status is ResultStatus.PROVISIONAL
    assert still is not None and (still.withdrawn, still.status) == (True, ResultStatus.PROVISIONAL)
    final = await record.achievement(achievement)
    assert final is not None and (final.grade, final.status) == ("8", ResultStatus.FINAL)
    unknown = await record.achievement(unsaid)
    assert unknown is not None and unknown.status is None


async def test_a_challenge_keeps_the_status_it_was_raised_with(migrated: asyncpg.Pool) -> None:
    store = ChallengeStore(migrated)
    raised = Challenge(
        uuid.uuid4(),
        uuid.uuid4(),
        AO,
        ULN,
        "wrong grade",
        ChallengeState.RAISED,
        datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
        achievement=ChallengedAchievement(
            qualification_number=QAN, award_date=AWARDED, grade="7", uln=ULN, status=ResultStatus.PROVISIONAL
        ),
    )
    assert raised.achievement is not None
    restored = Challenge(
        uuid.uuid4(),
        uuid.uuid4(),
        AO,
        ULN,
        "wrong date",
        ChallengeState.RESOLVED,
        datetime(2026, 12, 5, 9, 1, tzinfo=UTC),
        achievement=raised.achievement.model_copy(update={"status": ResultStatus.FINAL}),
    )
    before_it_was_kept = Challenge(
        uuid.uuid4(),
        uuid.uuid4(),
        AO,
        ULN,
        "wrong title",
        ChallengeState.RAISED,
        datetime(2026, 12, 5, 9, 2, tzinfo=UTC),
        achievement=raised.achievement.model_copy(update={"status": None}),
    )

    async with store.unit_of_work() as uow:
        await uow.insert(raised)
        await uow.insert(before_it_was_kept)
        assert await uow.restore(restored)

    assert await store.get(raised.challenge_id) == raised
    assert await store.get(restored.challenge_id) == restored
    assert await store.get(before_it_was_kept.challenge_id) == before_it_was_kept
    listed = await store.list(ao_id=AO, ulns={ULN, "6936002314"}, ulns_as_recorded=True)
    assert [challenge.challenge_id for challenge in listed] == [
        before_it_was_kept.challenge_id,
        restored.challenge_id,
        raised.challenge_id,
    ]
    assert [c.achievement.status if c.achievement else None for c in listed] == [
        None,
        ResultStatus.FINAL,
        ResultStatus.PROVISIONAL,
    ]


async def test_the_ulns_of_several_learners_are_each_learners_ulns_together(migrated: asyncpg.Pool) -> None:
    record = PlrRecord(migrated)
    first, into_first, into_that, master = "1000000051", "1000000086", "1000000094", "1000000108"
    second, into_second, alone, unknown = "1000000116", "1000000124", "1000000132", "1000000140"
    # into_that -> into_first -> first -> master: a chain; into_second -> second
    merges = {into_that: into_first, into_first: first, first: master, into_second: second}
    await record.apply(poll(AchievementFacts(uuid.uuid4(), alone, AO, False), merges=merges))
    asked_sets = [
        {into_first},
        {into_that, second},
        {master, into_second, alone, unknown},
        {first, into_first},
        set(),
    ]

    for asked in asked_sets:
        each: set[str] = set()
        for uln in asked:
            each |= await record.learner_ulns(uln)
        assert await record.ulns_of_learners(asked) == each, asked

    assert await record.learner_ulns(into_first) == {into_that, into_first, first, master}
    assert await record.ulns_of_learners({into_that, alone}) == {into_that, into_first, first, master, alone}


async def test_a_record_from_before_statuses_were_kept_is_read_again_from_the_log(migrated: asyncpg.Pool) -> None:
    record = PlrRecord(migrated)
    achievement = uuid.uuid4()
    await record.apply(poll(AchievementFacts(achievement, ULN, AO, False, QAN, AWARDED, "7")))
    await record.record_positions({("lrs.plr.events.v1", 0): 42})
    async with migrated.acquire() as connection:
        # the record as migrations 0001-0010 left it, holding rows and positions
        await connection.execute(
            "DROP TABLE challenges.achievement_statuses; ALTER TABLE challenges.challenges DROP COLUMN result_status;"
            " DELETE FROM challenges.schema_migrations WHERE version = 11"
        )
        applied = await apply_migrations(connection, "challenges", "challenges.migrations")

    assert applied == ["0011_achievement_result_status.sql"]
    assert await record.positions() == {}, "the log is read again from its beginning"
    assert await record.achievement(achievement) is None


async def test_a_challenge_on_a_provisional_result_says_so_to_the_learner_and_the_ao(
    kafka_bootstrap: str,
    challenges_app: httpx.AsyncClient,  # noqa: F811 - fixture
    pool: asyncpg.Pool,
) -> None:
    """Through the log: the record learns the result is Provisional, the raise keeps it, and the learner's own list
    describes the achievement as the AO's does."""
    ao_id, learner_uln, someone_else = random_ao(), random_uln(), random_uln()
    events = Events(ao_id=ao_id)
    await produce(
        kafka_bootstrap,
        "",
        [
            record(events.recorded(learner_uln, status=ResultStatus.PROVISIONAL), learner_uln),
            record(events.recorded(someone_else), someone_else),
        ],
    )
    as_learner, as_ao = await bearer(pool, f"learner:{learner_uln}"), await bearer(pool, f"ao:{ao_id}")
    as_someone_else = await bearer(pool, f"learner:{someone_else}")
    body = {"achievement_id": str(events.achievement_id(learner_uln)), "reason": "My grade is wrong"}
    other = {"achievement_id": str(events.achievement_id(someone_else)), "reason": "Mine too"}

    raised = await raise_once_known(challenges_app, body, as_learner)
    assert (await raise_once_known(challenges_app, other, as_someone_else)).status_code == 201
    learners = (await challenges_app.get("/v1/challenges", headers=as_learner)).json()["items"]
    aos = (await challenges_app.get("/v1/challenges", params={"uln": learner_uln}, headers=as_ao)).json()["items"]

    assert raised.status_code == 201, raised.text
    assert raised.json()["achievement"]["status"] == "P"
    assert [item["challenge_id"] for item in learners] == [raised.json()["challenge_id"]]
    assert learners[0]["achievement"] == aos[0]["achievement"] == raised.json()["achievement"]
    assert learners[0]["achievement"]["subject_code"] == "600/1166/X"
