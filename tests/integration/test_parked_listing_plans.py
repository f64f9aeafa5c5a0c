"""An operator's look at one stream's parked messages reads that stream's rows, not every parked one,
planned for its values or, once prepared, generically (decision 0117): the projector's dead letters and
every other service's parking lot."""

from __future__ import annotations

import pytest
from tests.support.databases import migrated_connection
from tests.support.plans import RowCounter

from lrs_platform.parking import ParkedMessages
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS, ReadModel

pytestmark = pytest.mark.integration

GENERIC = pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])


@GENERIC
async def test_a_learners_parked_events_are_read_alone(fresh_database_url: str, generic: bool) -> None:
    async with migrated_connection(fresh_database_url, LIVE_SCHEMA, MIGRATIONS) as connection:
        # 20,000 parked events of 5,000 learners on two topics
        await connection.execute(
            f'INSERT INTO "{LIVE_SCHEMA}".parked (topic, partition, "offset", park_key, reason, kafka_timestamp_ms)'
            " SELECT CASE WHEN n % 2 = 0 THEN 'lrs.plr.events.v1' ELSE 'lrs.learner.events.v1' END, n % 6, n,"
            " lpad((n % 5000)::text, 10, '0'), 'blocked', 0 FROM generate_series(1, 20000) AS n"
        )
        await connection.execute(f'ANALYZE "{LIVE_SCHEMA}".parked')
        counter = RowCounter(connection, "parked", generic=generic)

        rows = await ReadModel(LIVE_SCHEMA).parked(counter, key="0000000042")

    assert len(rows) == 4 and {row.park_key for row in rows} == {"0000000042"}
    assert counter.rows_read <= 8, counter.rows_read


@GENERIC
async def test_a_keys_parked_messages_are_read_alone(fresh_database_url: str, generic: bool) -> None:
    async with migrated_connection(
        fresh_database_url, "ingest_parked", "lrs_platform.parking_migrations"
    ) as connection:
        await connection.execute(
            'INSERT INTO ingest_parked.parked_messages (consumer, topic, partition, "offset", message_key, reason)'
            " SELECT CASE WHEN n % 2 = 0 THEN 'ingest.batch-view' ELSE 'ingest.reconciler' END, 'lrs.batch.outcomes.v1',"
            " n % 6, n, convert_to('batch-' || (n % 5000), 'UTF8'), 'blocked' FROM generate_series(1, 20000) AS n"
        )
        await connection.execute("ANALYZE ingest_parked.parked_messages")
        counter = RowCounter(connection, "parked_messages", generic=generic)

        rows = await ParkedMessages(counter, "ingest_parked").listing(
            ["ingest.batch-view", "ingest.reconciler"], key="batch-42"
        )

    assert len(rows) == 4 and {row.key for row in rows} == {b"batch-42"}
    assert counter.rows_read <= 8, counter.rows_read
