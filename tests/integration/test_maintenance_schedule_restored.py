"""The maintenance schedule after ingest's database is restored to an earlier point, on real Kafka and PostgreSQL
(report windows, finding 7), and a window asked for again once it is under way (finding 9).

Readers of the maintenance topic keep the highest version of a schedule_id (`MaintenanceGate.apply`). A restore
brings back the schedule_id they know with a lower version: without more, a decider would keep the newer, lost
schedule (a pause made after the restore point held batches while ingest said "no maintenance"), and ignore the next
changes too. Ingest reads the topic before its first announcement and, behind it, announces the restored schedule
under a new schedule_id, which readers take whatever its version.

Each test has a topic and a database of its own: a schedule on the shared maintenance topic would hold every other
test's decider.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from tests.support.databases import ingest_pool, throwaway_database
from tests.support.waiting import eventually

from ingest.maintenance import InvalidWindow, MaintenanceAnnouncer, MaintenanceStore, schedules_on_topic
from ingest.publisher import TransactionalPublisher
from lrs_contracts.envelope import utc_now
from lrs_contracts.operations import MaintenanceScheduleChanged
from lrs_contracts.topics import MAINTENANCE
from lrs_platform.kafka import ensure_topics
from lrs_platform.maintenance import MaintenanceGate

pytestmark = pytest.mark.integration

TABLES = ("ingest.maintenance_version", "ingest.maintenance_windows", "ingest.maintenance_pauses")
OPERATOR = "operator:restore-tests"


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    name = f"test.{uuid.uuid4().hex[:10]}.{MAINTENANCE.name}"
    await ensure_topics(kafka_bootstrap, [dataclasses.replace(MAINTENANCE, name=name)], with_dead_letters=False)
    return name


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with throwaway_database(database_url, "ingest_restore") as url, ingest_pool(url) as made:
        yield made


@pytest.fixture
async def publisher(kafka_bootstrap: str, topic: str) -> AsyncIterator[TransactionalPublisher]:
    made = TransactionalPublisher(
        kafka_bootstrap,
        f"ingest-restore-test-{uuid.uuid4().hex[:8]}",
        start_timeout=60,
        publish_timeout=30,
        prepare_topics=lambda _: asyncio.sleep(0),  # the test's topic is made already
    )
    yield made
    await made.stop()


def _started(
    store: MaintenanceStore, publisher: TransactionalPublisher, bootstrap: str, topic: str
) -> MaintenanceAnnouncer:
    """What ingest's start makes (bootstrap.py): an announcer that reads the topic before its first send."""
    return MaintenanceAnnouncer(store, publisher, topic, read_topic=lambda: schedules_on_topic(bootstrap, topic))


async def _backup(pool: asyncpg.Pool) -> dict[str, list[asyncpg.Record]]:
    async with pool.acquire() as connection:
        return {table: await connection.fetch(f"SELECT * FROM {table}") for table in TABLES}


async def _restore(pool: asyncpg.Pool, backup: dict[str, list[asyncpg.Record]]) -> None:
    """The three schedule tables as they were at the backup, as a point-in-time restore leaves them."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL lrs.audit_maintenance = 'on'")  # as its owner (decision 0200)
        await connection.execute(f"TRUNCATE {', '.join(TABLES)}")
        for table, rows in backup.items():
            if rows:
                columns = list(rows[0].keys())
                await connection.copy_records_to_table(
                    table.split(".")[1], schema_name="ingest", records=[tuple(row) for row in rows], columns=columns
                )


@asynccontextmanager
async def _following(gate: MaintenanceGate) -> AsyncIterator[MaintenanceGate]:
    """The gate reading the topic from its start, as a decider's does, caught up with it."""
    task = asyncio.create_task(gate.follow())
    try:
        await asyncio.wait_for(gate.caught_up.wait(), 60)
        yield gate
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def _pause_reason(gate: MaintenanceGate) -> str | None:
    schedule = gate.schedule
    return None if schedule is None or schedule.pause is None else schedule.pause.reason


async def test_after_a_restore_the_deciders_end_on_the_restored_schedule_and_take_the_next_change(
    pool: asyncpg.Pool, publisher: TransactionalPublisher, kafka_bootstrap: str, topic: str
) -> None:
    store = MaintenanceStore(pool)
    announcer = _started(store, publisher, kafka_bootstrap, topic)
    now = utc_now()
    window, _ = await store.add_window(now + timedelta(days=3), now + timedelta(days=3, hours=2), "upgrade", OPERATOR)
    assert await announcer.announce()
    backup = await _backup(pool)  # version 1: the window, no pause

    await store.pause("pause made after the backup", OPERATOR)  # version 2
    assert await announcer.announce()
    async with _following(MaintenanceGate(kafka_bootstrap, topic, "restore-test.decider")) as gate:
        # a decider running through the restore
        await eventually(lambda: _async(_pause_reason(gate)), within=30, what="the decider paused")

        await _restore(pool, backup)
        restarted = MaintenanceStore(pool)  # ingest started on the restored database
        assert await _started(restarted, publisher, kafka_bootstrap, topic).announce()

        async def restored() -> MaintenanceScheduleChanged | None:
            schedule = gate.schedule
            if schedule is None or schedule.pause is not None:
                return None
            return schedule if [held.window_id for held in schedule.windows] == [window.window.window_id] else None

        held = await eventually(restored, within=30, what="the decider on the restored schedule")
        stored = await restarted.schedule()
        assert stored is not None and (held.schedule_id, held.version) == (stored.schedule_id, stored.version)
        assert stored.schedule_id != backup["ingest.maintenance_version"][0]["schedule_id"]  # announced anew

        # the next change after the restore reaches the decider (it took the lost change's version before)
        await restarted.pause("pause made after the restore", OPERATOR)
        assert await _started(restarted, publisher, kafka_bootstrap, topic).announce()
        await eventually(
            lambda: _async(_pause_reason(gate) == "pause made after the restore" or None),
            within=30,
            what="the decider paused again",
        )

    # a decider started afterwards, reading the topic from its start, ends on the same schedule
    async with _following(MaintenanceGate(kafka_bootstrap, topic, "restore-test.late")) as late:
        assert _pause_reason(late) == "pause made after the restore"

    # a start on a database the topic agrees with keeps its schedule_id: nothing was lost
    before = await restarted.schedule()
    assert await _started(MaintenanceStore(pool), publisher, kafka_bootstrap, topic).announce()
    after = await restarted.schedule()
    assert before is not None and after is not None and after.schedule_id == before.schedule_id


async def test_a_window_asked_for_again_once_under_way_for_more_than_5_minutes_is_answered_not_refused(
    pool: asyncpg.Pool,
) -> None:
    """Finding 9: the same start, end and reason as a window neither cancelled nor over is that window, even once its
    start is more than 5 minutes past (a "from now" request retried): answered as it stands, no change made."""
    store = MaintenanceStore(pool)
    now = utc_now()
    starts_at, ends_at = now - timedelta(minutes=10), now + timedelta(minutes=50)
    window_id = uuid.uuid4()
    async with pool.acquire() as connection:
        await connection.execute("UPDATE ingest.maintenance_version SET version = version + 1")
        await connection.execute(
            "INSERT INTO ingest.maintenance_windows (window_id, starts_at, ends_at, reason, scheduled_by, scheduled_at)"
            " VALUES ($1, $2, $3, 'retry test', $4, $5)",
            window_id,
            starts_at,
            ends_at,
            OPERATOR,
            now - timedelta(minutes=6),  # scheduled "from now", 6 minutes ago
        )
    version = (await store.schedule() or pytest.fail("no schedule")).version

    record, new = await store.add_window(starts_at, ends_at, "retry test", OPERATOR)

    assert (record.window.window_id, new) == (window_id, False)
    assert (await store.schedule() or pytest.fail("no schedule")).version == version  # nothing changed
    # a new window starting then is still refused
    with pytest.raises(InvalidWindow, match="cannot start in the past"):
        await store.add_window(starts_at, ends_at, "another window", OPERATOR)


async def _async(value: Any) -> Any:
    return value
