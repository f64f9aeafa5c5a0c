"""A learner's withdrawal of a challenge (decision 0194), against real Kafka, PostgreSQL and an SMTP server (aiosmtpd):
the AO's challenge contact who was sent the raise notice is told, in a reply to it, that no action is needed; a raise
notice still held for want of a contact (decision 0155) is dropped, and neither it nor a withdrawal is ever sent."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from tests.integration.test_notifier import bearer, produce, sealed_challenge
from tests.support.learners import random_uln
from tests.support.mail import Inbox, notifier_settings
from tests.support.waiting import eventually

from lrs_contracts.challenge import ChallengedAchievement, ChallengeRaised, ChallengeResolution, ChallengeResolved
from lrs_contracts.envelope import Envelope
from lrs_contracts.registry import wrap
from lrs_contracts.topics import CHALLENGE_EVENTS
from lrs_platform.keyring import migrate
from notifier.bootstrap import create_app

pytestmark = pytest.mark.integration


def as_the_challenges_service_writes(payload: ChallengeRaised | ChallengeResolved) -> Envelope:
    return wrap(payload, source="challenges", correlation_id=str(payload.challenge_id))


def withdrawal_of(raised: ChallengeRaised) -> ChallengeResolved:
    return ChallengeResolved(
        challenge_id=raised.challenge_id,
        achievement_id=raised.achievement_id,
        ao_id=raised.ao_id,
        resolution=ChallengeResolution.WITHDRAWN,
        uln=raised.uln,
    )


async def test_a_withdrawal_is_told_to_the_contact_sent_the_raise_and_a_held_raise_notice_is_dropped(
    kafka_bootstrap: str, fresh_database_url: str, inbox: Inbox
) -> None:
    settings = await notifier_settings(
        kafka_bootstrap, fresh_database_url, inbox, "notifier-withdrawn", deferred_poll_seconds=0.2
    )
    told, unset = f"RN{uuid.uuid4().int % 10**6}", f"RN{uuid.uuid4().int % 10**6}"
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2)
    assert pool is not None
    app = create_app(settings)
    try:
        await migrate(pool)
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier") as client,
        ):
            as_told = await bearer(pool, f"ao:{told}")
            contact = {
                "given_name": "Ada",
                "family_name": "Lovelace",
                "telephone": "0161 496 0000",
                "email": f"challenges@{told.lower()}.example",
            }
            put = await client.put(f"/v1/ao/{told}/challenge-contact", json=contact, headers=as_told)
            assert put.status_code == 200, put.text
            uln = random_uln()
            achievement = ChallengedAchievement(
                qualification_number="6001166X", award_date=date(2024, 8, 22), grade="4", uln=uln
            )
            raised = (await sealed_challenge(pool, told, uln, "Grade should be 5")).model_copy(
                update={"achievement": achievement}
            )
            raise_event = as_the_challenges_service_writes(raised)
            await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(raised.achievement_id), raise_event)
            await eventually(
                lambda: _async(inbox.with_message_id(f"<{raise_event.event_id}@lrs.local>")),
                within=30,
                what="the raise notice",
            )

            # the other AO has no contact: its raise notice is held, then its challenge withdrawn
            held_raise = await sealed_challenge(pool, unset, random_uln(), "Wrong qualification")
            held_event = as_the_challenges_service_writes(held_raise)
            held_withdrawal = as_the_challenges_service_writes(withdrawal_of(held_raise))
            withdrawal = as_the_challenges_service_writes(withdrawal_of(raised))
            await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(held_raise.achievement_id), held_event)
            await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(held_raise.achievement_id), held_withdrawal)
            await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(raised.achievement_id), withdrawal)

            [email] = await eventually(
                lambda: _async(inbox.with_message_id(f"<{withdrawal.event_id}@lrs.local>")),
                within=30,
                what="the withdrawal's notice",
            )
            assert email["To"] == contact["email"]
            assert email["In-Reply-To"] == email["References"] == f"<{raise_event.event_id}@lrs.local>"
            assert email["Subject"] == (
                f"LRS Event Data Challenge withdrawn by the learner on 600/1166/X: {told} {raised.challenge_id}"
            )
            plain = email.get_body(("plain",))
            assert plain is not None
            body = " ".join(plain.get_content().split())
            assert "No action is needed" in body and "Grade: 4" in body
            assert uln not in body and "Grade should be 5" not in body
            assert f"/challenges/{raised.challenge_id}" in body
            row = await pool.fetchrow(
                "SELECT status, event_type, correlation_id FROM notifier.deliveries WHERE event_id = $1",
                withdrawal.event_id,
            )
            assert tuple(row) == ("sent", "lrs.challenge.resolved.v1", str(raised.challenge_id))
            assert await pool.fetchval("SELECT count(*) FROM notifier.challenge_notices") == 0, "nothing kept after"

            await eventually(
                lambda: _status_is(pool, held_withdrawal.event_id, "skipped"), within=30, what="the held withdrawal"
            )
            row = await pool.fetchrow(
                "SELECT status, last_error FROM notifier.deliveries WHERE event_id = $1", held_event.event_id
            )
            assert row["status"] == "skipped" and "the learner withdrew the challenge" in row["last_error"]
            assert await pool.fetchval("SELECT count(*) FROM notifier.deferred_emails") == 0, "no held notice left"
            missing = await client.get("/v1/challenge-contacts/missing", headers=await bearer(pool, "operator:it"))
            assert [held for held in missing.json() if held["ao_id"] == unset] == []
            assert inbox.with_message_id(f"<{held_event.event_id}@lrs.local>") == []
            assert inbox.with_message_id(f"<{held_withdrawal.event_id}@lrs.local>") == []
    finally:
        await pool.close()


async def _status_is(pool: asyncpg.Pool, event_id: uuid.UUID, status: str) -> bool:
    return bool(await pool.fetchval("SELECT status FROM notifier.deliveries WHERE event_id = $1", event_id) == status)


async def _async(value: Any) -> Any:
    return value
