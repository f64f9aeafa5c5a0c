"""The notifier and reporting park a message that is not JSON at its first attempt, as failing its contract, as
every other consumer does (docs/events.md, `lrs-error`), and reporting counts its lag as every consumer does
(docs/operations.md): an operator-runbook walk-through found them trying it three times as `JSONDecodeError`,
and no `lrs_consumer_lag_messages` for MI, so the stuck-consumer alert could never fire for it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_consumer_poison import (
    bearer,
    dead_letter_of,
    dead_letters_from_now,
    issue,
    metric,
    outcomes_of,
    produce,
    reporting_at_end,
)
from tests.integration.test_notifier import batch_completed, envelope
from tests.support.mail import Inbox, notifier_settings
from tests.support.serving import served
from tests.support.waiting import eventually

from lrs_contracts.registry import encode
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS
from notifier.bootstrap import create_app as create_notifier

pytestmark = pytest.mark.integration


async def test_reporting_parks_what_is_not_json_at_once_and_counts_its_lag(
    kafka_bootstrap: str, fresh_database_url: str
) -> None:
    async with reporting_at_end(kafka_bootstrap, fresh_database_url, "reporting-not-json") as (app, client):
        as_operator = bearer(await issue(app, "operator:dlq-tests"))
        ao_id, following = f"RN{uuid.uuid4().int % 10**6}", uuid.uuid4()
        not_json = f"not json {uuid.uuid4()}".encode()
        _, following_end = outcomes_of(following, ao_id)

        async with dead_letters_from_now(kafka_bootstrap) as reader:
            await produce(kafka_bootstrap, (b"unreadable", not_json), (str(following).encode(), following_end))

            async def counted() -> Any:
                response = await client.get(
                    f"/v1/reports/submissions?period=2025-06&ao_id={ao_id}", headers=as_operator
                )
                items = response.json()["items"]
                return items if items and items[0]["batches_completed"] == 1 else None

            await eventually(counted, within=90, what="the next batch counted")
            _, letter = await dead_letter_of(reader, not_json)

        assert letter.consumer == "reporting"
        assert (letter.attempts, letter.error[:21]) == (1, "invalid: Invalid JSON"), letter

        async def lag_counted() -> dict[str, float] | None:
            metrics = (await client.get("/metrics")).text
            series = {
                topic: f'lrs_consumer_lag_messages{{consumer="reporting",topic="{topic}"}}'
                for topic in (BATCH_OUTCOMES.name, CHALLENGE_EVENTS.name)
            }
            if not all(f"\n{sample} " in metrics for sample in series.values()):
                return None
            lags = {topic: await metric(client, sample) for topic, sample in series.items()}
            return lags if lags[BATCH_OUTCOMES.name] == 0 else None

        assert await eventually(lag_counted, within=30, what="reporting's lag counted, nothing waiting") == {
            BATCH_OUTCOMES.name: 0,
            CHALLENGE_EVENTS.name: 0,
        }


async def test_the_notifier_parks_what_is_not_json_at_once_and_emails_the_next_ao(
    kafka_bootstrap: str, fresh_database_url: str, inbox: Inbox, tmp_path: Path
) -> None:
    app = create_notifier(await notifier_settings(kafka_bootstrap, fresh_database_url, inbox, "notifier-not-json"))
    async with served(app):
        not_json, following = f"not json {uuid.uuid4()}".encode(), uuid.uuid4()
        nxt = envelope(batch_completed(following, "results@ao-b.example"))

        async with dead_letters_from_now(kafka_bootstrap) as reader:
            await produce(kafka_bootstrap, (b"unreadable", not_json), (str(following).encode(), encode(nxt)))

            async def emailed() -> list[Any] | None:
                return inbox.with_message_id(f"<{nxt.event_id}@lrs.local>") or None

            await eventually(emailed, within=90, what="the next email")
            _, letter = await dead_letter_of(reader, not_json)

        assert letter.consumer == "notifier"
        assert (letter.attempts, letter.error[:21]) == (1, "invalid: Invalid JSON"), letter
