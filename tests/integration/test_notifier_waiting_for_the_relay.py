"""A batch decided while the notifier retries an earlier email (the incident walk, finding 1), against real Kafka,
PostgreSQL and an SMTP server (aiosmtpd): the relay away (the sink killed), then refusing the LRS at MAIL FROM (530
5.7.0, as after a credential rotation). The later batch's email, and a challenge's notice, wait behind the retried one;
`GET /v1/deliveries` of them answered `[]`, which `lrs emails show` read as "the batch may not be decided yet". Now the
answer says the notifier waits for the relay (`X-LRS-Notifier-Waiting`), as `/readyz`'s `emails` does for the portal,
and both go once the relay answers."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from bench.processes import free_port
from tests.integration.test_notifier import batch_completed, bearer, produce, sealed_challenge
from tests.support.learners import random_uln
from tests.support.mail import Inbox, notifier_settings, serving
from tests.support.waiting import eventually

from lrs_contracts.registry import wrap
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS
from lrs_platform.keyring import migrate
from notifier.bootstrap import create_app

pytestmark = pytest.mark.integration

WAITING = "X-LRS-Notifier-Waiting"


class RefusingRelay(Inbox):
    """Refuses the LRS as its sender (530 5.7.0 at MAIL FROM) while `refusing`: every email, none of them its own."""

    refusing = True

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.refusing:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        return "250 OK"


async def _the_later_batch_waits_said_and_goes(
    kafka_bootstrap: str, database_url: str, relay: Inbox, label: str, *, relay_back: Any
) -> tuple[dict[str, Any], str]:
    """A first batch's email retried while the relay fails, a second batch and a challenge's notice behind it: what
    the desk reads of the second (the header and `/readyz`'s `emails`), then both emails gone once `relay_back()`."""
    settings = await notifier_settings(
        kafka_bootstrap, database_url, relay, label, retry_base_seconds=0.2, retry_max_seconds=0.5
    )
    app = create_app(settings)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    await migrate(pool)  # validation's part at its start: the learners' key store
    try:
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier") as client,
        ):
            as_desk = await bearer(pool, "operator:desk")
            first, later = uuid.uuid4(), uuid.uuid4()
            retried = wrap(batch_completed(first, "results@ao-a.example"), source="test", correlation_id=str(first))
            queued = wrap(batch_completed(later, "results@ao-b.example"), source="test", correlation_id=str(later))
            await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(first), retried)

            async def retrying() -> str | None:
                rows = (await client.get("/v1/deliveries", params={"batch": str(first)}, headers=as_desk)).json()
                return "yes" if rows and rows[0]["status"] == "sending" and rows[0]["attempts"] >= 2 else None

            await eventually(retrying, within=30, what="the first batch's email retried")
            await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(later), queued)
            raised = await sealed_challenge(pool, "RN9001", random_uln(), "Grade is wrong")
            notice = wrap(raised, source="test", correlation_id=str(raised.challenge_id))
            await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, str(raised.achievement_id), notice)

            async def said(param: str, value: uuid.UUID) -> dict[str, Any] | None:
                answer = await client.get("/v1/deliveries", params={param: str(value)}, headers=as_desk)
                assert (answer.status_code, answer.json()) == (200, []), "nothing of it handled while the relay fails"
                waiting: dict[str, Any] | None = json.loads(answer.headers.get(WAITING, "null"))
                return waiting if waiting and waiting["seconds"] >= 1 else None

            waiting = await eventually(lambda: said("batch", later), within=30, what="the later batch said waiting")
            assert await said("challenge", raised.challenge_id) is not None, "the challenge's notice waits too"
            readyz = (await client.get("/readyz")).json()
            assert readyz["ready"] is True, readyz
            emails = str(readyz["checks"]["emails"])

            relay_back()

            async def both_sent() -> bool:
                return all(relay.with_message_id(f"<{event.event_id}@lrs.local>") for event in (retried, queued))

            await eventually(both_sent, within=30, what="both emails, once the relay answers")
            answer = await client.get("/v1/deliveries", params={"batch": str(later)}, headers=as_desk)
            assert [row["status"] for row in answer.json()] == ["sent"] and WAITING not in answer.headers
            assert (await client.get("/readyz")).json()["checks"]["emails"] == "ok"
            return waiting, emails
    finally:
        await pool.close()


async def test_a_batch_behind_an_email_retried_while_the_relay_is_away_is_said_to_wait_for_it(
    kafka_bootstrap: str, fresh_database_url: str
) -> None:
    relay = Inbox(free_port())  # nothing listens on its port until it is back
    served: list[Any] = []

    def back() -> None:
        served.append(serving(relay))
        served[-1].__enter__()

    try:
        waiting, emails = await _the_later_batch_waits_said_and_goes(
            kafka_bootstrap, fresh_database_url, relay, "notifier-relay-away", relay_back=back
        )
    finally:
        for context in served:
            context.__exit__(None, None, None)
    assert waiting["said"].startswith(f"The notifier is waiting for the mail relay ({waiting['error']}, for ")
    assert waiting["said"].endswith("s): emails queue behind it and go once it answers")
    assert waiting["error"] and "@" not in json.dumps(waiting)
    assert waiting["since"].endswith("Z")
    assert emails.startswith("ok: the notifier is waiting for the mail relay (")


async def test_a_batch_behind_an_email_the_relay_refuses_at_mail_from_is_said_to_wait_with_its_codes(
    kafka_bootstrap: str, fresh_database_url: str
) -> None:
    with serving(RefusingRelay(free_port())) as relay:

        def back() -> None:
            relay.refusing = False

        waiting, emails = await _the_later_batch_waits_said_and_goes(
            kafka_bootstrap, fresh_database_url, relay, "notifier-relay-refusing", relay_back=back
        )
    assert waiting["error"] == "SMTP 530 5.7.0 at MAIL FROM"
    assert waiting["said"].startswith("The notifier is waiting for the mail relay (SMTP 530 5.7.0 at MAIL FROM, for ")
    assert "(SMTP 530 5.7.0 at MAIL FROM, for " in emails
