"""An emptied reporting store whose consumer group was not reset (the rebuild's step 3 skipped, or refused while a
member was in the group: docs/operations.md, "Rebuilding reporting's store") reads the topics again from their
beginnings and catches up in silence, instead of publishing the figures of what comes next over the months' real
ones (decision 0161). Real Kafka and PostgreSQL."""

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
from lrs_platform.database import apply_migrations
from lrs_platform.kafka import ensure_topics, make_consumer, stop_within
from reporting import catch_up
from reporting.bootstrap import create_app
from reporting.config import ReportingSettings
from reporting.store import ReportingStore

pytestmark = pytest.mark.integration


async def _published(reader: AIOKafkaConsumer, key: str, seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for records in (await reader.getmany(timeout_ms=200)).values():
        seen.extend(
            decode(record.value or b"")[1].model_dump(mode="json") for record in records if record.key == key.encode()
        )
    return seen


async def _group_that_has_read(kafka_bootstrap: str, ao: str) -> str:
    """A consumer group that has read a month's six outcomes, as a dropped store's group had."""
    await ensure_topics(kafka_bootstrap)
    app_id = f"reporting-emptied-{uuid.uuid4().hex[:8]}"
    history = [completed(ao, "2023-05-15", accepted=10 + n, rejected=n) for n in range(6)]
    await produce(kafka_bootstrap, *[(batch.batch_id, envelope(batch)) for batch in history])
    await pin_group_at_end(kafka_bootstrap, app_id, (BATCH_OUTCOMES, CHALLENGE_EVENTS))
    return app_id


async def test_an_emptied_store_whose_group_has_read_the_history_reads_it_again_before_publishing(
    kafka_bootstrap: str, fresh_database_url: str, pool: asyncpg.Pool
) -> None:
    ao = random_ao()
    app_id = await _group_that_has_read(kafka_bootstrap, ao)
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
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"]["publications"].startswith("catching up: reading the history again")

            await eventually(lambda: _published(reader, key, seen), within=60, what="the month, once caught up")
            answered = await client.get(f"/v1/reports/submissions?period={PERIOD}&ao_id={ao}", headers=operator)
            assert answered.status_code == 200 and answered.json()["items"][0]["batches_completed"] == 6

            later = completed(ao, "2023-05-15", accepted=1, rejected=0)
            await produce(kafka_bootstrap, (later.batch_id, envelope(later)))

            async def later_published() -> bool:
                return any(each["batches_completed"] == 7 for each in await _published(reader, key, seen))

            await eventually(later_published, within=60, what="a later outcome published as it comes")
            # the month as it stands, then with the later outcome: never the later outcome's figures alone (1, 0)
            assert [(each["batches_completed"], each["records_rejected"]) for each in seen] == [(6, 15), (7, 15)]
    finally:
        await reader.stop()


async def test_an_emptied_store_does_not_start_while_a_member_keeps_its_group_where_it_had_read(
    kafka_bootstrap: str, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_id = await _group_that_has_read(kafka_bootstrap, random_ao())
    monkeypatch.setattr(catch_up, "START_SECONDS", 3.0)
    member = make_consumer(kafka_bootstrap, BATCH_OUTCOMES.name, group_id=app_id)
    await member.start()
    try:
        await member.getmany(timeout_ms=5_000)  # joined: the group has a member until it stops
        settings = ReportingSettings(
            KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, DATABASE_URL=fresh_database_url, app_id=app_id, log_json=True
        )
        with pytest.raises(catch_up.GroupStillInUse, match="stop every reporting replica"):
            async with LifespanManager(create_app(settings), startup_timeout=60, shutdown_timeout=40):
                pass
    finally:
        await stop_within(member.stop(), "test member")


async def test_a_replica_restarting_beside_another_starts_though_the_store_holds_no_figures_yet(
    kafka_bootstrap: str, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new installation before its first decided batch: the store holds no figures (what was read so far is
    outcomes it keeps nothing of), yet it has begun, and a replica restarting while another reads in the group
    neither moves the group back nor refuses to start."""
    app_id = await _group_that_has_read(kafka_bootstrap, random_ao())
    monkeypatch.setattr(catch_up, "START_SECONDS", 3.0)
    async with pool.acquire() as connection:
        await apply_migrations(connection, "reporting", "reporting.migrations")
    store = ReportingStore(pool)
    topics = (BATCH_OUTCOMES.name, CHALLENGE_EVENTS.name)
    first = await catch_up.begin(store, kafka_bootstrap, app_id, topics)  # the first replica begins: reads again
    await first.caught_up()  # ... and caught up, with no figure kept
    await pin_group_at_end(kafka_bootstrap, app_id, (BATCH_OUTCOMES, CHALLENGE_EVENTS))
    member = make_consumer(kafka_bootstrap, BATCH_OUTCOMES.name, group_id=app_id)
    await member.start()
    try:
        await member.getmany(timeout_ms=5_000)  # the first replica, reading in the group

        again = await catch_up.begin(store, kafka_bootstrap, app_id, topics)  # the second replica restarts

        assert again.ends == {}
    finally:
        await stop_within(member.stop(), "test member")
