"""The challenges service's copy of the PLR log follows the domain's one fold (decision 0031) across polls: an event
the fold finds changes nothing leaves the grade and status a challenge shows as the PLR shows them, and one the fold
refuses is parked, as the PLR projector parks it, leaving the achievement as it was."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from tests.integration.test_challenges import challenges_app, raise_once_known, random_ao  # noqa: F401 - fixture
from tests.integration.test_notifier import bearer
from tests.support.learners import random_uln
from tests.support.projector import Events, ends_of, produce, record
from tests.support.waiting import eventually

from challenges.domain import AchievementOnRecord
from challenges.record_store import PlrRecord
from lrs_contracts.plr import ResultStatus

pytestmark = pytest.mark.integration


async def on_record_when(pool: asyncpg.Pool, events: Events, uln: str, grade: str, *, withdrawn: bool) -> None:
    """Waits until the record holds the learner's achievement with `grade` (its poll applied and committed)."""

    async def held() -> AchievementOnRecord | None:
        found = await PlrRecord(pool).achievement(events.achievement_id(uln))
        return found if found is not None and (found.grade, found.withdrawn) == (grade, withdrawn) else None

    await eventually(held, within=60, what=f"grade {grade} on record")


async def applied_through(pool: asyncpg.Pool, positions: list[tuple[int, int]]) -> None:
    """Waits until the record has applied the PLR log up to and including the records at `positions` (a raise on an
    achievement the record knows does not wait for the rest of the log)."""
    ends = ends_of(positions)

    async def applied() -> bool | None:
        stored = await PlrRecord(pool).positions()
        return all(stored.get(key, 0) >= end for key, end in ends.items()) or None

    await eventually(applied, within=60, what="the later poll applied")


async def test_the_grade_a_challenge_shows_follows_the_fold_across_polls(
    kafka_bootstrap: str,
    challenges_app: httpx.AsyncClient,  # noqa: F811 - fixture
    pool: asyncpg.Pool,
) -> None:
    ao_id, learner_uln = random_ao(), random_uln()
    events = Events(ao_id=ao_id)
    await produce(kafka_bootstrap, "", [record(events.recorded(learner_uln, grade="7"), learner_uln)])
    await on_record_when(pool, events, learner_uln, "7", withdrawn=False)

    # a later poll: a Final 8, then a Provisional 4 after the Final result, which the fold leaves unapplied
    later = await produce(
        kafka_bootstrap,
        "",
        [
            record(events.updated(learner_uln, grade="8"), learner_uln),
            record(events.updated(learner_uln, grade="4", status=ResultStatus.PROVISIONAL), learner_uln),
        ],
    )
    await applied_through(pool, later)
    body = {"achievement_id": str(events.achievement_id(learner_uln)), "reason": "My grade is wrong"}
    raised = await raise_once_known(challenges_app, body, await bearer(pool, f"learner:{learner_uln}"))

    assert raised.status_code == 201, raised.text
    assert (raised.json()["achievement"]["grade"], raised.json()["achievement"]["status"]) == ("8", "F")


async def test_an_update_of_a_withdrawn_achievement_is_parked_and_changes_nothing(
    kafka_bootstrap: str,
    challenges_app: httpx.AsyncClient,  # noqa: F811 - fixture
    pool: asyncpg.Pool,
) -> None:
    ao_id, learner_uln = random_ao(), random_uln()
    events = Events(ao_id=ao_id)
    await produce(
        kafka_bootstrap,
        "",
        [
            record(events.recorded(learner_uln, grade="7"), learner_uln),
            record(events.withdrawn(learner_uln), learner_uln),
        ],
    )
    await on_record_when(pool, events, learner_uln, "7", withdrawn=True)

    await produce(kafka_bootstrap, "", [record(events.updated(learner_uln, grade="9"), learner_uln)])

    async def parked() -> list[asyncpg.Record] | None:
        rows = await pool.fetch(
            "SELECT event_type, reason, error FROM challenges_parked.parked_messages WHERE message_key = $1",
            learner_uln.encode(),
        )
        return rows or None

    [row] = await eventually(parked, within=60, what="the refused update parked")
    assert row["event_type"] == "lrs.achievement.updated.v1"
    assert "withdrawn" in row["error"]
    kept = await PlrRecord(pool).achievement(events.achievement_id(learner_uln))
    assert kept is not None and (kept.grade, kept.withdrawn, kept.status) == ("7", True, ResultStatus.FINAL)
