"""What the notifier says of a batch's email that cannot go, against real Kafka, PostgreSQL and SMTP servers (aiosmtpd)
(the tracer walk, findings 14 and 7): an email refused for good is logged `email_given_up`, at error, with its AO, batch,
event and the recipient's domain, not as the same `email_failed` warning as each retry; and a batch whose outcome the
notifier parked in its own dead letters is said so on `GET /v1/deliveries?batch=ID` (`X-LRS-Held-In-Dead-Letters`),
where `lrs emails show` listed guesses ("the batch may not be decided yet …")."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from bench.processes import free_port
from scripts.dev import kafka_drill
from structlog.testing import capture_logs
from tests.integration.test_notifier import batch_completed, bearer, produce
from tests.integration.test_notifier_refused_contact import RefusingInbox
from tests.support.mail import Inbox, notifier_settings, serving
from tests.support.waiting import eventually

from lrs_contracts.registry import wrap
from lrs_contracts.topics import BATCH_OUTCOMES
from notifier.api import HELD_HEADER
from notifier.bootstrap import create_app

pytestmark = pytest.mark.integration


async def test_a_batch_email_refused_for_good_is_logged_given_up_at_error_naming_its_ao_and_domain(
    kafka_bootstrap: str, fresh_database_url: str
) -> None:
    with serving(RefusingInbox(free_port())) as relay:
        settings = await notifier_settings(kafka_bootstrap, fresh_database_url, relay, "notifier-given-up-said")
        batch_id = uuid.uuid4()
        domain = f"{batch_id.hex[:8]}.invalid"
        relay.gone.add(f"exams.officer@{domain}")
        event = wrap(batch_completed(batch_id, f"exams.officer@{domain}"), source="test", correlation_id=str(batch_id))
        pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2)
        assert pool is not None
        app = create_app(settings)
        try:
            with capture_logs() as logs:
                async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
                    await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(batch_id), event)

                    async def given_up() -> list[dict[str, Any]]:
                        return [
                            dict(line)
                            for line in logs
                            if line["event"] == "email_given_up" and line.get("batch_id") == str(batch_id)
                        ]

                    [line] = await eventually(given_up, within=30, what="the email given up, logged")
                status = await pool.fetchval(
                    "SELECT status FROM notifier.deliveries WHERE event_id = $1", event.event_id
                )
        finally:
            await pool.close()

    assert status == "failed"
    assert line == {
        "event": "email_given_up",
        "log_level": "error",
        "event_id": str(event.event_id),
        "event_type": "lrs.batch.completed.v1",
        "correlation_id": str(batch_id),
        "batch_id": str(batch_id),
        "ao_id": "RN9001",
        "recipient_domain": domain,
        "attempt": 1,
        "reason": "refused_for_good",
        "error": line["error"],
    }
    assert "550 5.1.1" in line["error"]
    ours = [entry for entry in logs if str(batch_id) in str(entry.values())]
    assert [entry["event"] for entry in ours if entry["event"].startswith("email_")] == ["email_given_up"]
    assert "exams.officer" not in str(logs)


async def test_a_batch_whose_outcome_the_notifier_parked_is_said_held_until_an_operator_skips_the_poison(
    kafka_bootstrap: str, fresh_database_url: str, inbox: Inbox
) -> None:
    settings = await notifier_settings(kafka_bootstrap, fresh_database_url, inbox, "notifier-held-said")
    batch_id = uuid.uuid4()
    completed = wrap(batch_completed(batch_id, "results@ao-a.example"), source="test", correlation_id=str(batch_id))
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2)
    assert pool is not None
    app = create_app(settings)
    try:
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier") as client,
        ):
            as_operator = await bearer(pool, "operator:it")
            # operations.md's drill, on the batch's own key: bytes that are not JSON, then the batch's outcome behind
            await kafka_drill.produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(batch_id), b"\xff\xfenot json")
            await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(batch_id), completed)

            async def held() -> tuple[list[Any], dict[str, Any]] | None:
                answer = await client.get("/v1/deliveries", params={"batch": str(batch_id)}, headers=as_operator)
                assert answer.status_code == 200, answer.text
                said = json.loads(answer.headers.get(HELD_HEADER, "null"))
                return (answer.json(), said) if said and said["messages"] == 2 else None

            emails, said = await eventually(held, within=30, what="the poison and the outcome behind it, said held")
            assert emails == []
            listed = await client.get(
                "/v1/admin/dlq", params={"consumer": "notifier", "key": str(batch_id)}, headers=as_operator
            )
            assert listed.status_code == 200, listed.text
            poison, behind = listed.json()["parked"]
            assert (poison["reason"], behind["reason"]) == ("error", "blocked")
            since = datetime.fromisoformat(said["since"])
            assert said["since"].endswith("Z") and since == datetime.fromisoformat(poison["parked_at"])
            assert abs(since - datetime.now(UTC)) < timedelta(minutes=5)

            skipped = await client.post(
                f"/v1/admin/dlq/{poison['id']}/skip", json={"reason": "the drill's junk"}, headers=as_operator
            )
            assert skipped.status_code == 200, skipped.text
            await eventually(
                lambda: _async(inbox.with_message_id(f"<{completed.event_id}@lrs.local>")),
                within=30,
                what="the batch's email, once its outcome was applied",
            )
            after = await client.get("/v1/deliveries", params={"batch": str(batch_id)}, headers=as_operator)
            assert [email["status"] for email in after.json()] == ["sent"]
            assert HELD_HEADER not in after.headers
    finally:
        await pool.close()


async def _async(value: Any) -> Any:
    return value
