"""Notifier against real Kafka, real PostgreSQL and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from tests.support.kafka import send
from tests.support.learners import random_uln
from tests.support.mail import Inbox, notifier_settings
from tests.support.waiting import eventually

from lrs_contracts.batch import JobType
from lrs_contracts.challenge import ChallengeRaised
from lrs_contracts.envelope import Contract, Envelope
from lrs_contracts.outcomes import BatchCompleted, BatchCounts
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS
from lrs_platform.credential_store import CredentialStore
from lrs_platform.identity import Principal
from lrs_platform.keyring import (
    KEYRING_KEY_VARIABLE,
    Keyring,
    KeyringKey,
    LearnerKey,
    Purpose,
    keyring_key_from,
    migrate,
)
from notifier.bootstrap import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def notifier(
    kafka_bootstrap: str, fresh_database_url: str, inbox: Inbox
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Pool]]:
    app = create_app(await notifier_settings(kafka_bootstrap, fresh_database_url, inbox, "notifier-it"))
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2)
    assert pool is not None
    await migrate(pool)  # validation's part at its start: the learners' key store
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier") as client,
    ):
        yield client, pool
    await pool.close()


async def produce(bootstrap: str, topic: str, key: str, *envelopes: Envelope) -> None:
    await send(bootstrap, topic, [(key.encode(), encode(envelope)) for envelope in envelopes])


def batch_completed(batch_id: uuid.UUID, email: str) -> BatchCompleted:
    now = datetime.now(UTC)
    return BatchCompleted(
        batch_id=batch_id,
        ao_id="RN9001",
        job_type=JobType.FINAL,
        batch_reference=f"IT-{batch_id.hex[:6]}",
        notification_email=email,
        counts=BatchCounts(total=3, accepted=3, rejected=0, no_ops=0, warnings=0),
        submitted_at=now,
        decided_at=now,
    )


def envelope(payload: Contract) -> Envelope:
    return wrap(payload, source="test", correlation_id="it")


async def bearer(pool: asyncpg.Pool, principal: str) -> dict[str, str]:
    store = CredentialStore(pool)
    await store.migrate()
    issued = await store.issue(Principal.parse(principal))
    return {"Authorization": f"Bearer {issued.token}"}


async def test_batch_completed_is_emailed_once_with_a_stable_message_id_even_when_redelivered(
    kafka_bootstrap: str, notifier: tuple[httpx.AsyncClient, asyncpg.Pool], inbox: Inbox
) -> None:
    _, pool = notifier
    batch_id = uuid.uuid4()
    first = envelope(batch_completed(batch_id, "results@ao-a.example"))
    await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(batch_id), first)
    message_id = f"<{first.event_id}@lrs.local>"
    [email] = await eventually(lambda: _async(inbox.with_message_id(message_id)), within=30, what="the email")
    assert email["To"] == "results@ao-a.example"
    assert f"/batches/{batch_id}" in str(email.get_body(("plain",)).get_content())  # type: ignore[union-attr]

    # The same event again (a redelivery), then a marker event behind it on the same partition: once the
    # marker's email is out, the redelivered event has been handled too.
    marker = envelope(batch_completed(batch_id, "marker@ao-a.example"))
    await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(batch_id), first, marker)
    await eventually(lambda: _async(inbox.with_message_id(f"<{marker.event_id}@lrs.local>")), within=30, what="marker")
    assert len(inbox.with_message_id(message_id)) == 1
    row = await pool.fetchrow("SELECT status, attempts FROM notifier.deliveries WHERE event_id = $1", first.event_id)
    assert (row["status"], row["attempts"]) == ("sent", 1)


async def test_challenge_raised_emails_the_aos_own_contact_which_other_aos_cannot_see(
    kafka_bootstrap: str, notifier: tuple[httpx.AsyncClient, asyncpg.Pool], inbox: Inbox
) -> None:
    client, pool = notifier
    ao_a, ao_b = f"RN{uuid.uuid4().int % 10**6}", f"RN{uuid.uuid4().int % 10**6}"
    contact = {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "telephone": "+44 20 7946 0000",
        "email": f"challenges@{ao_a.lower()}.example",
    }
    as_a, as_b = await bearer(pool, f"ao:{ao_a}"), await bearer(pool, f"ao:{ao_b}")

    put = await client.put(f"/v1/ao/{ao_a}/challenge-contact", json=contact, headers=as_a)
    assert put.status_code == 200, put.text
    assert (await client.get(f"/v1/ao/{ao_a}/challenge-contact", headers=as_a)).json()["email"] == contact["email"]
    assert (await client.get(f"/v1/ao/{ao_a}/challenge-contact", headers=as_b)).status_code == 403
    assert (await client.put(f"/v1/ao/{ao_a}/challenge-contact", json=contact, headers=as_b)).status_code == 403
    as_learner = await bearer(pool, "learner:1000000043")
    assert (await client.get(f"/v1/ao/{ao_a}/challenge-contact", headers=as_learner)).status_code == 403
    assert (await client.get(f"/v1/ao/{ao_a}/challenge-contact")).status_code == 401

    raised = await sealed_challenge(pool, ao_a, "1000000043", "Grade is wrong")
    event = envelope(raised)
    await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(raised.achievement_id), event)
    [email] = await eventually(
        lambda: _async(inbox.with_message_id(f"<{event.event_id}@lrs.local>")), within=30, what="challenge email"
    )
    assert email["To"] == contact["email"]
    body = str(email.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert "Dear Ada Lovelace" in body
    assert str(raised.challenge_id) in body
    assert "Grade is wrong" in body, "the reason opened with the learner's key"
    assert "1000000043" not in body


async def test_an_erased_learners_challenge_is_emailed_saying_their_reason_is_gone(
    kafka_bootstrap: str, notifier: tuple[httpx.AsyncClient, asyncpg.Pool], inbox: Inbox
) -> None:
    client, pool = notifier
    ao = f"RN{uuid.uuid4().int % 10**6}"
    contact = {"given_name": "Ada", "family_name": "Lovelace", "telephone": "0161 496 0000", "email": "c@ao.example"}
    put = await client.put(f"/v1/ao/{ao}/challenge-contact", json=contact, headers=await bearer(pool, f"ao:{ao}"))
    assert put.status_code == 200, put.text
    uln = random_uln()
    raised = await sealed_challenge(pool, ao, uln, "I am not Ada Byron")
    # the learner is erased (validation destroys the key) before the notifier reads the challenge
    async with pool.acquire() as connection, connection.transaction():
        assert await Keyring(pool, the_keyring_key()).erase(connection, uln)
    event = envelope(raised)
    await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(raised.achievement_id), event)
    [email] = await eventually(
        lambda: _async(inbox.with_message_id(f"<{event.event_id}@lrs.local>")), within=30, what="challenge email"
    )
    body = str(email.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert str(raised.challenge_id) in body, "the AO still learns that the challenge exists"
    assert "reason is no longer available: their personal data was erased" in body
    assert "Ada Byron" not in email.as_string()


def the_keyring_key() -> KeyringKey:
    return keyring_key_from(os.environ.get(KEYRING_KEY_VARIABLE))


async def sealed_challenge(pool: asyncpg.Pool, ao_id: str, uln: str, reason: str) -> ChallengeRaised:
    """A challenge as the challenges service raises it: the reason sealed under the learner's key."""
    key = (await Keyring(pool, the_keyring_key()).issue([uln]))[uln]
    assert isinstance(key, LearnerKey)
    return ChallengeRaised(
        challenge_id=uuid.uuid4(),
        achievement_id=uuid.uuid4(),
        ao_id=ao_id,
        uln=uln,
        reason_sealed=key.seal_text(Purpose.CHALLENGE_REASON, reason),
    )


async def test_a_recipient_refused_for_now_holds_no_other_email_and_gets_its_own_once_it_is_taken(
    kafka_bootstrap: str, fresh_database_url: str, inbox: Inbox
) -> None:
    """A full mailbox used to hold every email behind it on its partition for ten minutes."""
    settings = await notifier_settings(
        kafka_bootstrap,
        fresh_database_url,
        inbox,
        "notifier-deferred",
        recipient_retry_base_seconds=0.5,
        recipient_retry_max_seconds=1.0,
        deferred_poll_seconds=0.2,
    )
    inbox.full_mailboxes.add("full@ao-b.example")
    batch_id = uuid.uuid4()  # one key: both events on one partition, the full mailbox's first
    waiting = envelope(batch_completed(batch_id, "full@ao-b.example"))
    behind = envelope(batch_completed(batch_id, "next@ao-c.example"))
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(batch_id), waiting, behind)
        await eventually(lambda: _async(inbox.to("next@ao-c.example")), within=30, what="the email behind")
        assert inbox.to("full@ao-b.example") == []
        pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=1)
        assert pool is not None
        try:
            deferred = await pool.fetchval("SELECT count(*) FROM notifier.deferred_emails")
            assert deferred == 1

            inbox.full_mailboxes.clear()  # the mailbox emptied
            [email] = await eventually(
                lambda: _async(inbox.to("full@ao-b.example")), within=30, what="the deferred email"
            )
            assert email["Message-ID"] == f"<{waiting.event_id}@lrs.local>"
            row = await pool.fetchrow(
                "SELECT status, attempts FROM notifier.deliveries WHERE event_id = $1", waiting.event_id
            )
            assert row["status"] == "sent" and row["attempts"] >= 2
            assert await pool.fetchval("SELECT count(*) FROM notifier.deferred_emails") == 0
        finally:
            await pool.close()


async def test_a_challenge_raised_before_the_ao_set_a_contact_waits_through_a_restart_and_goes_once_it_is_set(
    kafka_bootstrap: str, fresh_database_url: str, inbox: Inbox
) -> None:
    """It used to be logged skipped, and never sent even once the AO set its contact (decision 0155)."""
    settings = await notifier_settings(
        kafka_bootstrap, fresh_database_url, inbox, "notifier-held", deferred_poll_seconds=0.2
    )
    ao = f"RN{uuid.uuid4().int % 10**6}"
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        await migrate(pool)
        raised = await sealed_challenge(pool, ao, random_uln(), "My grade is a B, not a C")
        raised_at = datetime.now(UTC) - timedelta(hours=1)  # raised well before the contact is set
        event = wrap(raised, source="test", correlation_id="it", occurred_at=raised_at)
        held_sql = "SELECT count(*) FROM notifier.deferred_emails WHERE held_for_ao = $1 AND due_at = 'infinity'"
        async with LifespanManager(create_app(settings), startup_timeout=60, shutdown_timeout=30):
            await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(raised.achievement_id), event)
            await eventually(lambda: _held(pool, held_sql, ao), within=30, what="the notice held")
            envelope_kept = await pool.fetchval(
                "SELECT envelope FROM notifier.deferred_emails WHERE event_id = $1", event.event_id
            )
            assert b"grade is a B" not in envelope_kept, "the reason stays sealed while held"
            status = await pool.fetchval("SELECT status FROM notifier.deliveries WHERE event_id = $1", event.event_id)
            assert status == "pending"

        app = create_app(settings)  # a restart: nothing is lost
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier") as client,
        ):
            await eventually(
                lambda: _metric_at_least(client, "lrs_notifier_challenge_notices_held", 1), within=30, what="gauge"
            )
            assert inbox.with_message_id(f"<{event.event_id}@lrs.local>") == []
            as_operator = await bearer(pool, "operator:it")
            missing = await client.get("/v1/challenge-contacts/missing", headers=as_operator)
            assert [(row["ao_id"], row["notices"]) for row in missing.json() if row["ao_id"] == ao] == [(ao, 1)]
            as_ao = await bearer(pool, f"ao:{ao}")
            assert (await client.get("/v1/challenge-contacts/missing", headers=as_ao)).status_code == 403
            contact = {
                "given_name": "Bo",
                "family_name": "Clerk",
                "telephone": "0161 496 0000",
                "email": "late@ao.example",
            }
            contact_set_at = datetime.now(UTC).replace(microsecond=0)
            put = await client.put(
                f"/v1/ao/{ao}/challenge-contact", json=contact, headers=await bearer(pool, f"ao:{ao}")
            )
            assert put.status_code == 200, put.text
            [email] = await eventually(
                lambda: _async(inbox.with_message_id(f"<{event.event_id}@lrs.local>")), within=30, what="the notice"
            )
            assert email["To"] == "late@ao.example"
            body = str(email.get_body(("plain",)).get_content())  # type: ignore[union-attr]
            assert "My grade is a B, not a C" in body and "waited until one was" in body
            # dated when released (when the contact was set), not when raised: it sorts where it arrives
            assert parsedate_to_datetime(email["Date"]) >= contact_set_at
            await eventually(
                lambda: _held(pool, "SELECT 1 - count(*) FROM notifier.deferred_emails WHERE held_for_ao = $1", ao),
                within=30,
                what="the row gone",
            )
            status = await pool.fetchval("SELECT status FROM notifier.deliveries WHERE event_id = $1", event.event_id)
            assert status == "sent"
            missing = await client.get("/v1/challenge-contacts/missing", headers=as_operator)
            assert ao not in [row["ao_id"] for row in missing.json()]
    finally:
        await pool.close()


async def _held(pool: asyncpg.Pool, sql: str, ao: str) -> bool:
    return bool(await pool.fetchval(sql, ao) == 1)


async def _metric_at_least(client: httpx.AsyncClient, name: str, value: float) -> bool:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1]) >= value
    return False


async def _async(value: list[EmailMessage]) -> list[EmailMessage]:
    return value


async def test_a_challenge_contact_moved_to_another_address_tells_the_address_it_left_once(
    notifier: tuple[httpx.AsyncClient, asyncpg.Pool], inbox: Inbox
) -> None:
    """Someone else's key could otherwise send learners' challenges elsewhere unseen; the new address is not told
    to the old one, nor a change of the same address (its case, a telephone number) said at all."""
    client, pool = notifier
    ao = f"RN{uuid.uuid4().int % 10**6}"
    as_ao = await bearer(pool, f"ao:{ao}")
    first = {"given_name": "Ada", "family_name": "Lovelace", "telephone": "+44 20 7946 0000"}
    old, new = f"challenges@{ao.lower()}.example", f"elsewhere@{ao.lower()}.example"
    for email in (old, old.upper(), new, new):
        answer = await client.put(f"/v1/ao/{ao}/challenge-contact", json={**first, "email": email}, headers=as_ao)
        assert answer.status_code == 200, answer.text

    def told(address: str) -> list[EmailMessage]:
        return [message for message in inbox.messages if str(message["To"]).casefold() == address.casefold()]

    # the address it left as last stored (in capitals): one notice, though it was set three ways before
    [notice] = await eventually(lambda: _async(told(old)), within=30, what="the notice to the address it left")
    plain = notice.get_body(("plain",))
    assert plain is not None
    text = plain.get_content()
    assert notice["Subject"] == f"LRS challenge contact changed: {ao}" and text.startswith("Dear Ada Lovelace,")
    assert "by your organisation's key or portal account" in text and new not in text
    row = await pool.fetchrow(
        "SELECT count(*) AS n, count(sent_at) AS sent, count(old_email) + count(old_name) AS personal"
        " FROM notifier.contact_change_notices WHERE ao_id = $1",
        ao,
    )
    assert (row["n"], row["sent"], row["personal"]) == (1, 1, 0)  # sent: the old address and name gone
    assert told(new) == []
