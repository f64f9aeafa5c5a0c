"""An erased learner's centre report held in the challenges service's dead letters, on real Kafka and PostgreSQL (a
forensic walk, finding 3).

The challenges service's follower of the PLR log parks what it cannot apply with the learner's later events held
behind it, a provider's centre report among them: its `subject` and `provider_name` (the provider's words, which may
name the learner) stayed in clear in `challenges_parked.parked_messages` after the learner's erasure, readable with
`lrs dlq show --service challenges`, until an operator retried or skipped the poison. The erasure
(`lrs.learner.erased.v1`, one for each ULN of the learner's) now empties them there, in the transaction that empties
the learner's challenge texts; another learner's report keeps its words.

The messages go to topics of the test's own, and the dead letters nowhere (the office's publisher drops them):
nothing is left on a shared topic."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Collection
from typing import Any

import asyncpg
import pytest
from tests.support.databases import throwaway_database, unique_name
from tests.support.kafka import send
from tests.support.learners import random_uln
from tests.support.waiting import eventually

from challenges.log_follower import FOLLOWER, HeldLearners, ResumeFromStoredPositions, StoredPositions, record_guard
from challenges.record_store import PlrRecord
from challenges.service import ChallengeService
from challenges.store import ChallengeStore
from lrs_contracts.dead_letters import Headers
from lrs_contracts.envelope import Contract, utc_now
from lrs_contracts.learner import LearnerErased
from lrs_contracts.plr import CentreAchievementReported
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import LEARNER_EVENTS, PLR_EVENTS
from lrs_platform.consumer import ConsumerLoop
from lrs_platform.database import apply_migrations
from lrs_platform.kafka import ensure_topics, make_consumer
from lrs_platform.keyring import DATA_KEY_BYTES, LearnerKey
from lrs_platform.parking import DeadLetterOffice, ParkedMessages

pytestmark = pytest.mark.integration

NAME, DATE_OF_BIRTH = "Philippa Marrowbone", "1993-11-08"
SUBJECT = f"Maths tutoring for {NAME} born {DATE_OF_BIRTH}"
PROVIDER_NAME = f"Marrowbone Tutoring for {NAME}"
KEPT_SUBJECT, KEPT_PROVIDER_NAME = "Maths (evening class)", "Northern College"


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with throwaway_database(os.environ["DATABASE_URL"], "challenges_erased_parked") as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=6)
        try:
            async with pool.acquire() as connection:
                await apply_migrations(connection, "challenges", "challenges.migrations")
            yield pool
        finally:
            await pool.close()


class Keyring:
    """Every learner's key, made on demand (the key store is not what this test is about)."""

    async def issue(self, ulns: Collection[str]) -> dict[str, LearnerKey]:
        return {uln: LearnerKey(uln, secrets.token_bytes(DATA_KEY_BYTES)) for uln in ulns}

    def forget(self, uln: str) -> None:
        return None


async def _caught_up() -> bool:
    return True


async def _dropped(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
    return None  # the dead letter's copy goes nowhere: `<own topic>.dlq` is no topic


def _keyed(uln: str, *events: Contract) -> list[tuple[bytes, bytes]]:
    return [(uln.encode(), encode(wrap(event, source="tests", correlation_id="tests"))) for event in events]


def _report(uln: str, subject: str = SUBJECT, provider_name: str = PROVIDER_NAME) -> CentreAchievementReported:
    return CentreAchievementReported(
        report_id=uuid.uuid4(),
        uln=uln,
        provider_ukprn="10004567",
        provider_name=provider_name,
        qualification_number="60190541",
        subject=subject,
        grade="Pass",
    )


async def _parked_data(pool: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    """The data of the follower's parked centre reports, by learner, in log order."""
    rows = await pool.fetch(
        "SELECT message_key, value FROM challenges_parked.parked_messages WHERE consumer = $1 AND reason = 'blocked'"
        ' ORDER BY message_key, "offset"',
        FOLLOWER,
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["message_key"].decode(), []).append(json.loads(row["value"])["data"])
    return found


async def test_an_erasure_empties_the_free_text_of_the_learners_centre_reports_parked_by_the_challenges_service(
    pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    plr = dataclasses.replace(PLR_EVENTS, name=unique_name("challenges.erased.plr"))
    learners = dataclasses.replace(LEARNER_EVENTS, name=unique_name("challenges.erased.learners"))
    await ensure_topics(kafka_bootstrap, [plr, learners], partitions=1)
    uln, merged_uln, kept = random_uln(), random_uln(), random_uln()
    record = PlrRecord(pool)
    office = DeadLetterOffice(ParkedMessages(pool, "challenges_parked"), _dropped)
    await office.store.migrate()
    service = ChallengeService(
        ChallengeStore(pool),
        record,
        Keyring(),  # type: ignore[arg-type]
        _caught_up,
        held=HeldLearners(office.store),
    )
    follower = ConsumerLoop(
        record_guard(FOLLOWER, record, service.forget_learners, office),
        [plr.name, learners.name],
        lambda: make_consumer(kafka_bootstrap, group_id=unique_name("challenges-erased")),
        listener=lambda consumer: ResumeFromStoredPositions(consumer, record),
        progress=StoredPositions(record),
    )
    following = asyncio.create_task(follower.run())
    try:
        for learner in (uln, merged_uln, kept):
            await send(kafka_bootstrap, plr.name, [(learner.encode(), b'{"broken": true}')])
        await send(kafka_bootstrap, plr.name, _keyed(uln, _report(uln)))
        await send(kafka_bootstrap, plr.name, _keyed(merged_uln, _report(merged_uln)))
        await send(kafka_bootstrap, plr.name, _keyed(kept, _report(kept, KEPT_SUBJECT, KEPT_PROVIDER_NAME)))

        async def parked() -> dict[str, list[dict[str, Any]]] | None:
            found = await _parked_data(pool)
            return found if len(found) == 3 else None

        before = await eventually(parked, within=60, what="the reports held behind the poisons")
        for learner in (uln, merged_uln):
            assert [(item["subject"], item["provider_name"]) for item in before[learner]] == [(SUBJECT, PROVIDER_NAME)]

        # validation publishes an erasure for each ULN of the learner's, on the learner log
        for learner in (uln, merged_uln):
            erasure = LearnerErased(uln=learner, erasure_id=uuid.uuid4(), erased_by="operator:dpo", erased_at=utc_now())
            await send(kafka_bootstrap, learners.name, _keyed(learner, erasure))

        async def forgotten() -> bool:
            erased = await pool.fetchval(
                "SELECT count(*) FROM challenges.erased_learners WHERE uln = ANY($1::text[])", [uln, merged_uln]
            )
            return bool(erased == 2)

        await eventually(forgotten, within=60, what="the erasures applied")
        after = await _parked_data(pool)
        for learner in (uln, merged_uln):
            assert after[learner] == [{**before[learner][0], "subject": None, "provider_name": None}]
        assert after[kept] == before[kept]  # a learner not erased keeps their report's words
        naming = await pool.fetchval(
            "SELECT count(*) FROM challenges_parked.parked_messages"
            " WHERE position($1::bytea IN value) > 0 OR position($2::bytea IN value) > 0",
            NAME.encode(),
            DATE_OF_BIRTH.encode(),
        )
        assert naming == 0
        held = (await office.listing(FOLLOWER, key=uln))[0]
        assert [row.reason for row in held] == ["error", "blocked"], "still parked: an operator retries or skips it"
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
