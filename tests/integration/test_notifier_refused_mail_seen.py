"""What an operator sees of mail refused for good, against real Kafka, PostgreSQL and an SMTP server (aiosmtpd) that
answers 550 5.1.1 for a gone mailbox. An email walk found: a batch's email given up was recorded with its event id and
error alone (the batch and AO only in the logs, while kept); `/v1/challenge-contacts/missing` said an AO whose contact's
mailbox refused its notice had no contact; and once the AO set another, the "contact changed" notice went to the mailbox
known to refuse mail, bounced, and counted as an email given up."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from bench.processes import free_port
from tests.integration.test_notifier import batch_completed, bearer, produce, sealed_challenge
from tests.integration.test_notifier_refused_contact import RefusingInbox
from tests.support.learners import random_uln
from tests.support.mail import notifier_settings, serving
from tests.support.waiting import eventually

from lrs_contracts.registry import wrap
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS
from lrs_platform.keyring import migrate
from notifier.bootstrap import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
def gone_mailboxes() -> Iterator[RefusingInbox]:
    with serving(RefusingInbox(free_port())) as inbox:
        yield inbox


async def test_a_batch_email_given_up_is_listed_with_its_batch_ao_and_domain_for_operators_only(
    kafka_bootstrap: str, fresh_database_url: str, gone_mailboxes: RefusingInbox
) -> None:
    settings = await notifier_settings(kafka_bootstrap, fresh_database_url, gone_mailboxes, "notifier-failed-list")
    batch_id = uuid.uuid4()
    gone = f"bob@{batch_id.hex[:8]}.invalid"
    gone_mailboxes.gone.add(gone)
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2)
    assert pool is not None
    app = create_app(settings)
    try:
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier") as client,
        ):
            as_operator = await bearer(pool, "operator:it")
            event = wrap(batch_completed(batch_id, gone), source="test", correlation_id=str(batch_id))
            await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(batch_id), event)

            async def listed() -> list[dict[str, object]]:
                answer = await client.get("/v1/deliveries/failed", params={"limit": 500}, headers=as_operator)
                assert answer.status_code == 200, answer.text
                return [row for row in answer.json() if row["id"] == str(event.event_id)]

            [failed] = await eventually(listed, within=30, what="the given-up email listed")
            assert failed == {
                "id": str(event.event_id),
                "kind": "lrs.batch.completed.v1",
                "correlation_id": str(batch_id),
                "ao_id": "RN9001",
                "recipient_domain": f"{batch_id.hex[:8]}.invalid",
                "attempts": 1,
                "last_error": failed["last_error"],
                "failed_at": failed["failed_at"],
            }
            assert "550 5.1.1" in str(failed["last_error"]) and "bob@" not in str(failed["last_error"])
            as_ao = await bearer(pool, "ao:RN9001")
            assert (await client.get("/v1/deliveries/failed", headers=as_ao)).status_code == 403
            assert (await client.get("/v1/deliveries/failed")).status_code == 401
            assert (
                await client.get("/v1/deliveries/failed", params={"limit": 0}, headers=as_operator)
            ).status_code == 422
    finally:
        await pool.close()


async def test_an_ao_whose_contact_refused_its_notice_is_said_so_and_the_old_contact_is_not_told_of_the_change(
    kafka_bootstrap: str, fresh_database_url: str, gone_mailboxes: RefusingInbox
) -> None:
    settings = await notifier_settings(
        kafka_bootstrap, fresh_database_url, gone_mailboxes, "notifier-refused-seen", deferred_poll_seconds=0.2
    )
    ao, uncontacted = f"RN{uuid.uuid4().int % 10**6}", f"RN{uuid.uuid4().int % 10**6}"
    gone, new = f"gone@{ao.lower()}.example", f"new@{ao.lower()}.example"
    gone_mailboxes.gone.add(gone)
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2)
    assert pool is not None
    app = create_app(settings)
    try:
        await migrate(pool)
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier") as client,
        ):
            as_ao, as_operator = await bearer(pool, f"ao:{ao}"), await bearer(pool, "operator:it")
            contact = {"given_name": "Al", "family_name": "Gone", "telephone": "0161 496 0000", "email": gone}
            put = await client.put(f"/v1/ao/{ao}/challenge-contact", json=contact, headers=as_ao)
            assert put.status_code == 200, put.text
            for to in (ao, uncontacted):
                raised = await sealed_challenge(pool, to, random_uln(), "Award date wrong")
                event = wrap(raised, source="test", correlation_id=str(raised.challenge_id))
                await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(raised.achievement_id), event)

            async def both_held() -> dict[str, bool]:
                answer = await client.get("/v1/challenge-contacts/missing", headers=as_operator)
                assert answer.status_code == 200, answer.text
                held = {
                    row["ao_id"]: row["contact_refused"] for row in answer.json() if row["ao_id"] in (ao, uncontacted)
                }
                return held if len(held) == 2 else {}

            held = await eventually(both_held, within=30, what="both notices held")
            assert held == {ao: True, uncontacted: False}

            # the AO replaces the contact whose mailbox refused its notice: the notice goes to the new one, and the
            # old mailbox, known to refuse mail, is not sent the notice of the change (recorded as skipped)
            put = await client.put(f"/v1/ao/{ao}/challenge-contact", json={**contact, "email": new}, headers=as_ao)
            assert put.status_code == 200, put.text
            await eventually(lambda: _async(gone_mailboxes.to(new)), within=30, what="the notice to the new contact")
            notice_sql = (
                "SELECT skipped_at, sent_at, failed_at, old_email, old_name FROM notifier.contact_change_notices"
                " WHERE ao_id = $1 AND (skipped_at IS NOT NULL OR sent_at IS NOT NULL OR failed_at IS NOT NULL)"
            )
            notice = await eventually(lambda: pool.fetchrow(notice_sql, ao), within=30, what="the change notice done")
            assert notice["skipped_at"] is not None, dict(notice)
            assert (notice["sent_at"], notice["failed_at"], notice["old_email"], notice["old_name"]) == (
                None,
                None,
                None,
                None,
            )
            failed = await client.get("/v1/deliveries/failed", params={"limit": 500}, headers=as_operator)
            assert ao not in [row["ao_id"] for row in failed.json()]
    finally:
        await pool.close()


async def _async(value: object) -> object:
    return value
