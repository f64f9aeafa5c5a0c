"""An LRS operator resolving a challenge for its AO, against real Kafka, PostgreSQL and an SMTP server (aiosmtpd): the
AO's challenge contact who was sent the raise notice is told, in a reply to it, as what the service desk resolved it
and the note the learner was sent, once however often the event comes; the AO's own resolution sends nothing; a raise
notice still held for want of a contact stays held (decision 0155: sent once the AO sets one), and the resolution is
told to no one. And the contact keeps the key it was set with."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from tests.integration.test_notifier import produce, sealed_challenge, the_keyring_key
from tests.support.learners import random_uln
from tests.support.mail import Inbox, notifier_settings
from tests.support.waiting import eventually

from lrs_contracts.challenge import ChallengedAchievement, ChallengeRaised, ChallengeResolution, ChallengeResolved
from lrs_contracts.envelope import Envelope
from lrs_contracts.registry import wrap
from lrs_contracts.topics import CHALLENGE_EVENTS
from lrs_platform.credential_store import CredentialStore
from lrs_platform.identity import Principal
from lrs_platform.keyring import Keyring, LearnerKey, Purpose, migrate
from notifier.bootstrap import create_app

pytestmark = pytest.mark.integration

NOTE = "This is an appeal, not a data error: contact your awarding organisation's appeals team."


def by(principal: str, payload: ChallengeRaised | ChallengeResolved) -> Envelope:
    """As the challenges service writes it: the caller's principal as `causation_id`."""
    return wrap(payload, source="challenges", correlation_id=str(payload.challenge_id), causation_id=principal)


async def resolution_of(
    pool: asyncpg.Pool, raised: ChallengeRaised, resolution: ChallengeResolution, note: str
) -> ChallengeResolved:
    key = (await Keyring(pool, the_keyring_key()).issue([raised.uln]))[raised.uln]
    assert isinstance(key, LearnerKey)
    return ChallengeResolved(
        challenge_id=raised.challenge_id,
        achievement_id=raised.achievement_id,
        ao_id=raised.ao_id,
        resolution=resolution,
        uln=raised.uln,
        note_sealed=key.seal_text(Purpose.CHALLENGE_NOTE, note),
    )


async def key_of(pool: asyncpg.Pool, principal: str) -> tuple[str, dict[str, str]]:
    store = CredentialStore(pool)
    await store.migrate()
    issued = await store.issue(Principal.parse(principal))
    return issued.key_id, {"Authorization": f"Bearer {issued.token}"}


async def test_the_desks_resolution_is_told_to_the_contact_sent_the_raise_and_the_contact_keeps_its_key(
    kafka_bootstrap: str, fresh_database_url: str, inbox: Inbox
) -> None:
    settings = await notifier_settings(
        kafka_bootstrap, fresh_database_url, inbox, "notifier-desk-resolved", deferred_poll_seconds=0.2
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
            first_key, as_first = await key_of(pool, f"ao:{told}")
            second_key, as_second = await key_of(pool, f"ao:{told}")
            operator_key, as_operator = await key_of(pool, "operator:desk")
            path = f"/v1/ao/{told}/challenge-contact"
            contact = {
                "given_name": "Ada",
                "family_name": "Lovelace",
                "telephone": "0161 496 0000",
                "email": f"old@{told.lower()}.example",
            }
            put = await client.put(path, json=contact, headers=as_first)
            assert put.status_code == 200, put.text
            assert (put.json()["updated_by"], put.json()["updated_with_key"]) == (f"ao:{told}", first_key)
            # another of the AO's keys moves the contact: the row and the old address's notice keep that key
            contact = {**contact, "given_name": "Bo", "email": f"new@{told.lower()}.example"}
            put = await client.put(path, json=contact, headers=as_second)
            assert put.status_code == 200, put.text
            row = await pool.fetchrow(
                "SELECT updated_by, updated_with_key FROM notifier.challenge_contacts WHERE ao_id = $1", told
            )
            assert tuple(row) == (f"ao:{told}", second_key)
            row = await pool.fetchrow(
                "SELECT changed_by, changed_with_key FROM notifier.contact_change_notices WHERE ao_id = $1", told
            )
            assert tuple(row) == (f"ao:{told}", second_key)
            for headers in (as_first, as_operator):  # the AO reads its own key's id, as an operator does
                got = (await client.get(path, headers=headers)).json()
                assert (got["updated_by"], got["updated_with_key"]) == (f"ao:{told}", second_key)
            assert operator_key != second_key

            uln, other_uln = random_uln(), random_uln()
            achievement = ChallengedAchievement(
                qualification_number="6001166X", award_date=date(2024, 8, 22), grade="4", uln=uln
            )
            raised = (await sealed_challenge(pool, told, uln, "Grade should be 5")).model_copy(
                update={"achievement": achievement}
            )
            answered = await sealed_challenge(pool, told, other_uln, "Wrong award date")
            raise_event, answered_event = by(f"learner:{uln}", raised), by(f"learner:{other_uln}", answered)
            await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(raised.achievement_id), raise_event)
            await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(answered.achievement_id), answered_event)
            await eventually(
                lambda: _async(
                    all(inbox.with_message_id(f"<{e.event_id}@lrs.local>") for e in (raise_event, answered_event))
                ),
                within=30,
                what="the raise notices",
            )

            # the other AO has no contact: its raise notice is held, then the desk resolves its challenge
            held_raise = await sealed_challenge(pool, unset, random_uln(), "Wrong qualification")
            held_event = by(f"learner:{held_raise.uln}", held_raise)
            held_resolution = by(
                "operator:desk", await resolution_of(pool, held_raise, ChallengeResolution.REJECTED, NOTE)
            )
            await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(held_raise.achievement_id), held_event)
            await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(held_raise.achievement_id), held_resolution)

            # on one partition, in order: the desk's resolution, the same event again, then the AO's own answer
            desk = by("operator:desk", await resolution_of(pool, raised, ChallengeResolution.REJECTED, NOTE))
            own = by(f"ao:{told}", await resolution_of(pool, answered, ChallengeResolution.UPHELD, "Checked: right"))
            await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(raised.achievement_id), desk, desk, own)
            await eventually(lambda: _gone(pool, answered.challenge_id), within=30, what="the AO's own answer handled")
            [email] = inbox.with_message_id(f"<{desk.event_id}@lrs.local>")
            assert email["To"] == contact["email"]
            assert email["In-Reply-To"] == email["References"] == f"<{raise_event.event_id}@lrs.local>"
            assert email["Subject"] == (
                f"LRS Event Data Challenge resolved by the LRS service desk on 600/1166/X: {told} {raised.challenge_id}"
            )
            plain = email.get_body(("plain",))
            assert plain is not None
            body = " ".join(plain.get_content().split())
            assert "Dear Bo Lovelace" in body and '"Rejected: not a data error"' in body
            assert "No action is needed unless you disagree" in body and f"> {NOTE}" in body
            assert uln not in body and "Grade should be 5" not in body and "operator" not in body
            assert inbox.with_message_id(f"<{own.event_id}@lrs.local>") == [], "the AO's own answer sends nothing"
            rows = await pool.fetch(
                "SELECT event_id, status FROM notifier.deliveries WHERE correlation_id = ANY($1::text[])"
                " AND event_type = 'lrs.challenge.resolved.v1'",
                [str(raised.challenge_id), str(answered.challenge_id)],
            )
            assert [tuple(row) for row in rows] == [(desk.event_id, "sent")]
            assert await _gone(pool, raised.challenge_id), "nothing kept after"

            await eventually(
                lambda: _status_is(pool, held_resolution.event_id, "skipped"), within=30, what="the held resolution"
            )
            row = await pool.fetchrow(
                "SELECT status, last_error FROM notifier.deliveries WHERE event_id = $1", held_event.event_id
            )
            assert row["status"] == "pending" and "held" in row["last_error"], "the raise notice still held"
            resolution_row = await pool.fetchrow(
                "SELECT last_error FROM notifier.deliveries WHERE event_id = $1", held_resolution.event_id
            )
            assert "still waits to be sent" in resolution_row["last_error"]
            assert await pool.fetchval("SELECT count(*) FROM notifier.deferred_emails") == 1, "the held notice kept"
            assert inbox.with_message_id(f"<{held_resolution.event_id}@lrs.local>") == []
    finally:
        await pool.close()


async def _gone(pool: asyncpg.Pool, challenge_id: uuid.UUID) -> bool:
    kept = await pool.fetchval("SELECT count(*) FROM notifier.challenge_notices WHERE challenge_id = $1", challenge_id)
    return bool(kept == 0)


async def _status_is(pool: asyncpg.Pool, event_id: uuid.UUID, status: str) -> bool:
    return bool(await pool.fetchval("SELECT status FROM notifier.deliveries WHERE event_id = $1", event_id) == status)


async def _async(value: Any) -> Any:
    return value
