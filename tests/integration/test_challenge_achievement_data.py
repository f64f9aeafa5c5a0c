"""A challenged achievement's pathway, centre UKPRN, language for assessment and credits, against real Kafka and
PostgreSQL: a raise keeps them as the PLR log had them and answers them to the learner and the AO, and publishes them
for the AO's email; and a deployment from before they were kept (challenges migration 0012) reads the log again and
gives its challenges already raised the data they were raised against."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from tests.integration.test_challenges import challenges_app, raise_once_known, random_ao  # noqa: F401 - fixture
from tests.integration.test_notifier import bearer
from tests.support.learners import random_uln
from tests.support.projector import PLR, Events, Record, produce, record
from tests.support.waiting import eventually

from challenges.bootstrap import create_app
from challenges.config import ChallengesSettings
from lrs_contracts.challenge import ChallengeRaised
from lrs_contracts.plr import AchievementData, AchievementUpdated, Provenance, ResultStatus
from lrs_contracts.registry import decode, encode, wrap
from lrs_platform import keyring
from lrs_platform.database import apply_migrations
from lrs_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration

DATA: dict[str, Any] = {"pathway": "Higher", "ukprn": "10012345", "language_for_assessment": "Welsh", "credits": 12}
SHOWN = {
    "pathway": "Higher",
    "achievement_provider_ukprn": "10012345",
    "language_for_assessment": "Welsh",
    "credits": 12,
}
NONE_SHOWN = dict.fromkeys(SHOWN)


def _data_of(answer: dict[str, Any]) -> dict[str, Any]:
    achievement = answer["achievement"] or {}
    return {name: achievement.get(name) for name in SHOWN}


async def test_a_raised_challenge_answers_and_publishes_the_achievements_pathway_centre_language_and_credits(
    kafka_bootstrap: str,
    challenges_app: httpx.AsyncClient,  # noqa: F811 - fixture
    pool: asyncpg.Pool,
) -> None:
    ao_id, learner_uln = random_ao(), random_uln()
    events = Events(ao_id=ao_id)
    await produce(kafka_bootstrap, "", [record(events.recorded(learner_uln, **DATA), learner_uln)])
    as_learner, as_ao = await bearer(pool, f"learner:{learner_uln}"), await bearer(pool, f"ao:{ao_id}")
    body = {"achievement_id": str(events.achievement_id(learner_uln)), "reason": "My centre is wrong"}

    raised = await raise_once_known(challenges_app, body, as_learner)
    assert raised.status_code == 201, raised.text
    challenge_id = raised.json()["challenge_id"]
    read_by_ao = await challenges_app.get(f"/v1/challenges/{challenge_id}", headers=as_ao)
    learners_list = (await challenges_app.get("/v1/challenges", headers=as_learner)).json()["items"]
    published = await pool.fetchval(
        "SELECT envelope FROM challenges.outbox WHERE partition_key = $1", body["achievement_id"]
    )

    assert _data_of(raised.json()) == SHOWN
    assert _data_of(read_by_ao.json()) == SHOWN
    assert [_data_of(item) for item in learners_list] == [SHOWN]
    _, event = decode(published)
    assert isinstance(event, ChallengeRaised) and event.achievement is not None
    assert event.achievement.model_dump(include=set(DATA)) == DATA  # what the notifier's email names


async def _as_before_migration_0012(pool: asyncpg.Pool) -> None:
    """The schema as migrations 0001-0011 left it."""
    async with pool.acquire() as connection:
        await apply_migrations(connection, "challenges", "challenges.migrations")
        await connection.execute(
            "ALTER TABLE challenges.achievements_on_record DROP COLUMN pathway, DROP COLUMN ukprn,"
            " DROP COLUMN language_for_assessment, DROP COLUMN credits;"
            " ALTER TABLE challenges.challenges DROP COLUMN pathway, DROP COLUMN ukprn,"
            " DROP COLUMN language_for_assessment, DROP COLUMN credits, DROP COLUMN achievement_data_pending;"
            " DELETE FROM challenges.schema_migrations WHERE version = 12"
        )


async def _raised_before(pool: asyncpg.Pool, achievement_id: uuid.UUID, ao_id: str, uln: str) -> uuid.UUID:
    """A challenge as a release before migration 0012 kept it: its achievement described without the data."""
    challenge_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO challenges.challenges (challenge_id, achievement_id, ao_id, uln, reason, state, raised_at,"
        " qualification_number, award_date, grade, title, recorded_uln, result_status)"
        " VALUES ($1, $2, $3, $4, 'wrong centre', 'raised', $5, '6001166X', '2024-05-20', '7', 'GCSE Mathematics',"
        " $4, 'F')",
        challenge_id,
        achievement_id,
        ao_id,
        uln,
        datetime.now(UTC),
    )
    return challenge_id


async def test_challenges_raised_before_the_data_was_kept_take_it_once_the_log_is_read_again(
    kafka_bootstrap: str, fresh_database_url: str, pool: asyncpg.Pool
) -> None:
    """An upgraded deployment: migration 0012 empties the record and its positions, the record reads the log again
    from its beginning, and each challenge already raised takes the data of its achievement as it was raised —
    none for one whose achievement a later batch changed since (it was not raised against that)."""
    await ensure_topics(kafka_bootstrap)
    await keyring.migrate(pool)
    await _as_before_migration_0012(pool)
    ao_id, first_uln, second_uln = random_ao(), random_uln(), random_uln()
    events = Events(ao_id=ao_id)
    await produce(
        kafka_bootstrap,
        "",
        [
            record(events.recorded(first_uln, **DATA), first_uln),
            record(events.recorded(second_uln, **DATA), second_uln),
        ],
    )
    first = await _raised_before(pool, events.achievement_id(first_uln), ao_id, first_uln)
    changed_since = await _raised_before(pool, events.achievement_id(second_uln), ao_id, second_uln)
    later = Events(ao_id=ao_id)
    moved = AchievementUpdated(
        achievement_id=later.achievement_id(second_uln),
        key=later.key(second_uln),
        data=AchievementData(
            pathway="Higher", grade="7", ukprn="10099999", language_for_assessment="Welsh", credits=12
        ),  # the centre corrected after the challenge was raised
        status=ResultStatus.FINAL,
        provenance=Provenance(batch_id=later.batch_id, line=1),
    )
    value = encode(wrap(moved, source="validation", correlation_id=str(later.batch_id)))
    await produce(kafka_bootstrap, "", [Record(PLR, second_uln, value)])
    # the old record had read the log to its end
    await pool.execute(
        "INSERT INTO challenges.log_positions (topic, partition, next_offset) VALUES ($1, 0, 1000000000)", PLR
    )

    settings = ChallengesSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, DATABASE_URL=fresh_database_url)
    app = create_app(settings)
    as_ao = await bearer(pool, f"ao:{ao_id}")
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://challenges") as client,
    ):

        async def filled() -> bool | None:
            waiting = await pool.fetchval(
                "SELECT count(*) FROM challenges.challenges WHERE achievement_data_pending AND challenge_id = ANY($1)",
                [first, changed_since],
            )
            return True if waiting == 0 else None

        await eventually(filled, within=120, what="the challenges raised before filled")
        first_answer = (await client.get(f"/v1/challenges/{first}", headers=as_ao)).json()
        changed_answer = (await client.get(f"/v1/challenges/{changed_since}", headers=as_ao)).json()

    assert _data_of(first_answer) == SHOWN
    assert first_answer["achievement"]["grade"] == "7", "the rest of the snapshot as it was"
    assert _data_of(changed_answer) == NONE_SHOWN
    assert changed_answer["achievement"]["qualification_number"] == "6001166X"


async def test_migration_0012_has_the_record_read_the_log_again_and_marks_the_challenges_raised_before(
    pool: asyncpg.Pool,
) -> None:
    await _as_before_migration_0012(pool)
    achievement = uuid.uuid4()
    challenge = await _raised_before(pool, achievement, "RN5133", "1000000043")
    await pool.execute(
        "INSERT INTO challenges.achievements_on_record (achievement_id, uln, ao_id, withdrawn, applied_in)"
        " VALUES ($1, '1000000043', 'RN5133', false, 1)",
        achievement,
    )
    await pool.execute("INSERT INTO challenges.achievement_statuses VALUES ($1, 'F', 1)", achievement)
    await pool.execute("INSERT INTO challenges.log_positions VALUES ('lrs.plr.events.v1', 0, 42)")

    async with pool.acquire() as connection:
        applied = await apply_migrations(connection, "challenges", "challenges.migrations")

    assert applied == ["0012_achievement_data.sql"]
    assert await pool.fetchval("SELECT count(*) FROM challenges.achievements_on_record") == 0
    assert await pool.fetchval("SELECT count(*) FROM challenges.achievement_statuses") == 0
    assert await pool.fetchval("SELECT count(*) FROM challenges.log_positions") == 0, "read again from the start"
    assert await pool.fetchval(
        "SELECT achievement_data_pending FROM challenges.challenges WHERE challenge_id = $1", challenge
    )
