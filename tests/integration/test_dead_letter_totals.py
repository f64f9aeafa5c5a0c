"""A dead-letter listing shows its first `limit` rows and says how many are parked in all: an operator
who sees 500 rows must know whether 500 or 50,000 are parked."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.databases import migrated_connection

from lrs_platform.parking import DeadLetterOffice, ParkedMessages
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS, ReadModel

pytestmark = pytest.mark.integration


async def test_the_projectors_parked_events_are_counted_beyond_a_listing(fresh_database_url: str) -> None:
    model = ReadModel(LIVE_SCHEMA)
    async with migrated_connection(fresh_database_url, LIVE_SCHEMA, MIGRATIONS) as connection:
        await connection.execute(
            f'INSERT INTO "{LIVE_SCHEMA}".parked (topic, partition, "offset", park_key, reason, kafka_timestamp_ms)'
            " SELECT 'lrs.plr.events.v1', n % 6, n, lpad((n % 50)::text, 10, '0'), 'blocked', 0"
            " FROM generate_series(1, 700) AS n"
        )
        listed = await model.parked(connection, limit=500)
        everything = await model.parked_count(connection)
        one_key = await model.parked_count(connection, key="0000000042")
        other_topic = await model.parked_count(connection, topic="lrs.learner.events.v1")

    assert (len(listed), everything, one_key, other_topic) == (500, 700, 14, 0)


async def test_a_services_parked_messages_are_counted_beyond_a_listing(fresh_database_url: str) -> None:
    async with migrated_connection(
        fresh_database_url, "ingest_parked", "lrs_platform.parking_migrations"
    ) as connection:
        await connection.execute(
            'INSERT INTO ingest_parked.parked_messages (consumer, topic, partition, "offset", message_key, reason)'
            " SELECT CASE WHEN n % 2 = 0 THEN 'ingest.batch-view' ELSE 'ingest.reconciler' END,"
            " 'lrs.batch.outcomes.v1', n % 6, n, convert_to('batch-' || (n % 50), 'UTF8'), 'blocked'"
            " FROM generate_series(1, 700) AS n"
        )
        office = DeadLetterOffice(ParkedMessages(connection, "ingest_parked"), _no_publishing)
        office.register("ingest.batch-view")
        office.register("ingest.reconciler")

        first, everything = await office.listing(limit=500)
        few, counted = await office.listing(limit=1000)
        one_consumer = await office.listing("ingest.batch-view", limit=10)
        one_key = await office.listing(key="batch-42", limit=10)

    assert (len(first), everything) == (500, 700)
    assert (len(few), counted) == (700, 700)
    assert (len(one_consumer[0]), one_consumer[1]) == (10, 350)
    assert (len(one_key[0]), one_key[1]) == (10, 14)


async def _no_publishing(*_: Any) -> None:
    raise AssertionError("nothing is published by a listing")
