"""A reporting store rebuilt from empty (docs/operations.md, "Rebuilding reporting's store") reads the history
again in silence: each month goes out once, as it stands, when the group has read past where the topics ended;
meanwhile /readyz says so (decision 0161). Real Kafka and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from tests.integration.test_notifier import bearer
from tests.integration.test_reporting import PERIOD, completed, envelope, produce, random_ao, submissions_from_now
from tests.support.kafka import pin_group_at_end
from tests.support.waiting import eventually

from lrs_contracts.registry import decode
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS
from lrs_platform.kafka import ensure_topics
from reporting.bootstrap import create_app
from reporting.config import ReportingSettings

pytestmark = pytest.mark.integration


async def _published(reader: AIOKafkaConsumer, key: str, seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for records in (await reader.getmany(timeout_ms=200)).values():
        seen.extend(
            decode(record.value or b"")[1].model_dump(mode="json") for record in records if record.key == key.encode()
        )
    return seen


async def test_a_store_rebuilt_from_empty_publishes_each_month_once_it_has_caught_up(
    kafka_bootstrap: str, fresh_database_url: str, pool: asyncpg.Pool
) -> None:
    await ensure_topics(kafka_bootstrap)
    app_id = f"reporting-catch-up-{uuid.uuid4().hex[:8]}"
    # the group's history is what is produced from here: the outcomes of six batches, over several partitions
    await pin_group_at_end(kafka_bootstrap, app_id, (BATCH_OUTCOMES, CHALLENGE_EVENTS))
    ao = random_ao()
    history = [completed(ao, "2023-05-15", accepted=10 + n, rejected=n) for n in range(6)]
    await produce(kafka_bootstrap, *[(batch.batch_id, envelope(batch)) for batch in history])
    reader = await submissions_from_now(kafka_bootstrap)
    key, seen = f"{ao}|{PERIOD}", list[dict[str, Any]]()
    operator = await bearer(pool, "operator:mi")
    settings = ReportingSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, DATABASE_URL=fresh_database_url, app_id=app_id, log_json=True
    )
    app = create_app(settings)
    try:
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=40),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as client,
        ):
            reports = f"/v1/reports/submissions?period={PERIOD}&ao_id={ao}"
            ready = await client.get("/readyz")  # the first look at the group comes after CHECK_SECONDS
            assert ready.status_code == 200  # the store answers, with the figures counted so far
            assert ready.json()["checks"]["publications"].startswith("catching up: reading the history again")

            await eventually(lambda: _published(reader, key, seen), within=60, what="the month, once caught up")
            answered = await client.get(reports, headers=operator)
            assert answered.status_code == 200 and answered.json()["items"][0]["batches_completed"] == 6

            async def caught_up() -> bool:  # said once the months are out: a moment after they are read here
                return bool((await client.get("/readyz")).json()["checks"]["publications"] == "ok")

            await eventually(caught_up, within=30, what="/readyz no longer catching up")

            later = completed(ao, "2023-05-15", accepted=1, rejected=0)
            await produce(kafka_bootstrap, (later.batch_id, envelope(later)))

            async def later_published() -> bool:
                return any(each["batches_completed"] == 7 for each in await _published(reader, key, seen))

            await eventually(later_published, within=60, what="a later outcome published as it comes")
            # one key, one partition, in order: a month published while reading the history again would be here
            # before the caught-up month; only it and the later outcome's are
            assert [(each["batches_completed"], each["records_rejected"]) for each in seen] == [(6, 15), (7, 15)]
        assert await pool.fetchval("SELECT count(*) FROM reporting.catching_up") == 0
    finally:
        await reader.stop()
