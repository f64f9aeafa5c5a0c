"""`GET /v1/deliveries?batch=ID` / `?challenge=ID` against real Kafka, PostgreSQL and an SMTP server (aiosmtpd): the
service desk, asked "our batch email never arrived", sees whether, when and where it went (a sent one, one waiting for a
full mailbox, a challenge notice held for want of a contact), with the recipient's domain and never the address. A desk
walk found the delivery log kept all this but only `/v1/deliveries/failed` answered from it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from tests.integration.test_notifier import batch_completed, bearer, produce, sealed_challenge
from tests.support.learners import random_uln
from tests.support.mail import Inbox, notifier_settings
from tests.support.waiting import eventually

from lrs_contracts.registry import wrap
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS
from lrs_platform.keyring import migrate
from notifier.bootstrap import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def notifier(
    kafka_bootstrap: str, fresh_database_url: str, inbox: Inbox
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Pool]]:
    settings = await notifier_settings(kafka_bootstrap, fresh_database_url, inbox, "notifier-deliveries-of")
    app = create_app(settings)
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2)
    assert pool is not None
    await migrate(pool)  # validation's part at its start: the learners' key store
    try:
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier") as client,
        ):
            yield client, pool
    finally:
        await pool.close()


async def test_the_desk_sees_where_a_batchs_email_and_a_challenges_notice_stand_with_the_domain_only(
    kafka_bootstrap: str, notifier: tuple[httpx.AsyncClient, asyncpg.Pool], inbox: Inbox
) -> None:
    client, pool = notifier
    as_desk = await bearer(pool, "operator:desk")
    sent_batch, waiting_batch, unseen_batch = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    typo, full = f"results@{sent_batch.hex[:8]}.exmaple", f"full@{waiting_batch.hex[:8]}.example"
    inbox.full_mailboxes.add(full)
    sent = wrap(batch_completed(sent_batch, typo), source="test", correlation_id=str(sent_batch))
    waiting = wrap(batch_completed(waiting_batch, full), source="test", correlation_id=str(waiting_batch))
    await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(sent_batch), sent)
    await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(waiting_batch), waiting)
    ao = f"RN{uuid.uuid4().int % 10**6}"  # no challenge contact: its notice is held
    raised = await sealed_challenge(pool, ao, random_uln(), "Grade is wrong")
    held = wrap(raised, source="test", correlation_id=str(raised.challenge_id))
    await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(raised.achievement_id), held)

    async def of(param: str, value: uuid.UUID, status: str) -> list[dict[str, object]]:
        answer = await client.get("/v1/deliveries", params={param: str(value)}, headers=as_desk)
        assert answer.status_code == 200, answer.text
        assert "@" not in answer.text.replace("@lrs.local>", ""), "an address, not its domain"
        rows: list[dict[str, object]] = answer.json()
        return rows if rows and rows[0]["status"] == status else []

    [email] = await eventually(lambda: of("batch", sent_batch, "sent"), within=30, what="the batch email sent")
    assert email["id"] == str(sent.event_id)
    assert email["kind"] == "lrs.batch.completed.v1" and email["ao_id"] == "RN9001"
    assert email["recipient_domain"] == f"{sent_batch.hex[:8]}.exmaple"
    assert email["message_id"] == f"<{sent.event_id}@lrs.local>"
    assert email["attempts"] == 1 and email["sent_at"] is not None and email["last_tried_at"] is not None
    assert email["last_error"] is None and email["next_try_at"] is None
    assert f"a mailbox at {sent_batch.hex[:8]}.exmaple" in str(email["status_said"])
    assert len(inbox.with_message_id(str(email["message_id"]))) == 1

    [aside] = await eventually(lambda: of("batch", waiting_batch, "waiting"), within=30, what="the email set aside")
    assert aside["recipient_domain"] == f"{waiting_batch.hex[:8]}.example"
    assert aside["last_error"] == "recipients refused: [452 4.2.2]"
    assert "mailbox is full" in str(aside["last_error_said"])
    assert aside["sent_at"] is None and aside["next_try_at"] is not None

    [notice] = await eventually(lambda: of("challenge", raised.challenge_id, "held"), within=30, what="held notice")
    assert notice["kind"] == "lrs.challenge.raised.v2" and notice["ao_id"] == ao
    assert (notice["attempts"], notice["last_tried_at"], notice["next_try_at"]) == (0, None, None)
    assert notice["last_error"] == f"held: no challenge contact for {ao}"

    # a batch's id asked as a challenge's, and a batch not decided yet (or never seen): no delivery, not an error
    for param, value in (("challenge", sent_batch), ("batch", raised.challenge_id), ("batch", unseen_batch)):
        answer = await client.get("/v1/deliveries", params={param: str(value)}, headers=as_desk)
        assert (answer.status_code, answer.json()) == (200, [])
    assert (await client.get("/v1/deliveries", params={"batch": str(sent_batch)})).status_code == 401
    as_ao = await bearer(pool, "ao:RN9001")
    assert (await client.get("/v1/deliveries", params={"batch": str(sent_batch)}, headers=as_ao)).status_code == 403
