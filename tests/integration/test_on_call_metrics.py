"""The SRE report's findings 2 and 6 on real Kafka and PostgreSQL: a consumer's lag while it retries what it polled
(it read 0 through a relay outage), the oldest parked message's time, the pool's connections and an outbox's rows
waiting while it cannot publish."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from prometheus_client import REGISTRY
from tests.support.kafka import private_copy, running, send
from tests.support.waiting import eventually

from lrs_contracts.dead_letters import DeadLetter, Headers
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.consumer import ConsumerLoop, Message, PoisonGuard, RetryPolicy, Transient, given_no_partitions
from lrs_platform.database import create_pool, database_name
from lrs_platform.kafka import ensure_topics, make_consumer
from lrs_platform.outbox import Outbox
from lrs_platform.parking import DeadLetterOffice, ParkedMessages, Parking

pytestmark = pytest.mark.integration


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def never_sent(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
    raise AssertionError("nothing is parked here")


async def test_a_consumer_s_lag_counts_what_waits_while_it_retries_what_it_polled(
    kafka_bootstrap: str, pool: asyncpg.Pool
) -> None:
    """Its relay away, the consumer retries the messages it polled and polls no more; messages written meanwhile
    count too, also those the client, holding fetched messages, no longer fetches (the broker is asked)."""
    topic = private_copy(BATCH_OUTCOMES, "lag-retrying")
    await ensure_topics(kafka_bootstrap, [topic], with_dead_letters=False)
    name = f"lag.retrying.{uuid.uuid4().hex[:8]}"
    office = DeadLetterOffice(ParkedMessages(pool, "lag_retrying_parked"), never_sent)
    await office.store.migrate()
    tried: list[int] = []

    async def relay_away(messages: Sequence[Message]) -> None:
        tried.append(messages[0].offset)
        raise Transient("the mail relay: SMTPConnectError", delay=3600)  # in its back-off for the rest of the test

    loop = ConsumerLoop(
        PoisonGuard(name, relay_away, office, RetryPolicy()),
        [topic.name],
        lambda: make_consumer(kafka_bootstrap, group_id=f"lag-retrying-{uuid.uuid4().hex[:8]}"),
    )
    loop.lag.ask_every_s = 2.0  # the broker asked every 2 s, not 15, while the same messages stay in hand: a short test

    async def lag_is(count: int) -> bool:
        return sample("lrs_consumer_lag_messages", consumer=name, topic=topic.name) == count

    async def retrying() -> bool:
        return bool(tried) and sample("lrs_consumer_retrying", consumer=name) == 1

    async with running(loop):
        await eventually(lambda: lag_is(0), within=30, what="the idle consumer's lag counted")
        await send(kafka_bootstrap, topic.name, [(b"k", b"first %d" % n) for n in range(3)], partition=0)
        await eventually(retrying, within=30, what="the consumer retrying what it polled")
        await eventually(lambda: lag_is(3), within=30, what="the three in hand counted")
        await send(kafka_bootstrap, topic.name, [(b"k", b"second %d" % n) for n in range(2)], partition=0)
        await eventually(lambda: lag_is(5), within=30, what="two more written while it retries")
        await send(kafka_bootstrap, topic.name, [(b"k", b"third %d" % n) for n in range(2)], partition=0)
        await eventually(lambda: lag_is(7), within=30, what="two more, past what the client fetched")
    assert set(tried) == {0}  # what the first poll brought, tried all along: nothing else polled


async def test_a_client_its_group_gave_no_partition_is_told_from_one_not_yet_in_its_group(
    kafka_bootstrap: str,
) -> None:
    """review1, finding 1: the lag of a client with no partitions stays as it was, unless its group gave it none at
    its last rebalance (they went to another replica, which counts them): told from aiokafka's own state."""
    topic = dataclasses.replace(private_copy(BATCH_OUTCOMES, "given-none"), partitions=1)
    await ensure_topics(kafka_bootstrap, [topic], with_dead_letters=False)
    group = f"given-none-{uuid.uuid4().hex[:8]}"
    first, second = (make_consumer(kafka_bootstrap, topic.name, group_id=group) for _ in range(2))
    assert not given_no_partitions(first)  # subscribed, not started: not in its group
    await first.start()
    await second.start()
    try:

        async def one_has_the_partition_the_other_none() -> bool:
            await asyncio.gather(first.getmany(timeout_ms=200), second.getmany(timeout_ms=200))
            return {len(first.assignment()), len(second.assignment())} == {0, 1} and (
                given_no_partitions(first) or given_no_partitions(second)
            )

        await eventually(one_has_the_partition_the_other_none, within=60, what="the group's partition given to one")
        holder, other = (first, second) if first.assignment() else (second, first)
        assert given_no_partitions(other)
        assert not given_no_partitions(holder)
    finally:
        await first.stop()
        await second.stop()


async def test_the_oldest_parked_message_s_time_is_read_from_the_table(pool: asyncpg.Pool) -> None:
    store = ParkedMessages(pool, "oldest_parked_test")
    await store.migrate()
    office = DeadLetterOffice(store, never_sent)
    consumer = f"oldest.{uuid.uuid4().hex[:8]}"
    week_ago = datetime.now(UTC) - timedelta(days=7)

    def parking(offset: int, reason: str, parked_at: datetime | None) -> Parking:
        letter = DeadLetter.of(
            error="ValueError: bad",
            topic="t",
            partition=0,
            offset=offset,
            consumer=consumer,
            attempts=3,
            value=b"x",
            parked_at=parked_at,
        )
        return Parking(consumer, "t", 0, offset, b"k", b"x", 0, reason, letter if reason == "error" else None)

    await office.counts(consumer)
    assert sample("lrs_consumer_oldest_parked_timestamp_seconds", consumer=consumer) == 0
    await office.park([parking(5, "error", week_ago), parking(6, "blocked", None)], publish=False)
    assert await office.counts(consumer) == {"error": 1, "blocked": 1}
    exported = sample("lrs_consumer_oldest_parked_timestamp_seconds", consumer=consumer)
    assert exported is not None and abs(exported - week_ago.timestamp()) < 0.001
    await pool.execute(f"DELETE FROM oldest_parked_test.parked_messages WHERE consumer = '{consumer}'")
    await office.counts(consumer)
    assert sample("lrs_consumer_oldest_parked_timestamp_seconds", consumer=consumer) == 0


async def test_a_pool_s_connections_in_use_and_idle_are_on_metrics(fresh_database_url: str) -> None:
    database = database_name(fresh_database_url)
    pool = await create_pool(fresh_database_url, min_size=1, max_size=3)
    try:
        assert sample("lrs_db_pool_max_connections", database=database) == 3
        async with pool.acquire() as first, pool.acquire() as second:
            assert await first.fetchval("SELECT 1") == await second.fetchval("SELECT 1") == 1
            assert sample("lrs_db_pool_connections", database=database, state="in_use") == 2
        assert sample("lrs_db_pool_connections", database=database, state="in_use") == 0
        assert sample("lrs_db_pool_connections", database=database, state="idle") == 2
    finally:
        await pool.close()
    assert sample("lrs_db_pool_connections", database=database, state="idle") is None


class KafkaAway:
    """A producer whose broker is away."""

    async def send(self, topic: str, *, key: bytes, value: bytes) -> asyncio.Future[None]:
        raise KafkaConnectionError("the broker is away")


async def test_an_outbox_s_rows_waiting_are_counted_while_it_cannot_publish(pool: asyncpg.Pool) -> None:
    schema = f"outbox_{uuid.uuid4().hex[:8]}"
    await pool.execute(
        f"CREATE SCHEMA {schema};"
        f" CREATE TABLE {schema}.outbox (id bigserial PRIMARY KEY, partition_key text NOT NULL,"
        " envelope bytea NOT NULL, published_at timestamptz);"
        f" CREATE INDEX outbox_unpublished ON {schema}.outbox (id) WHERE published_at IS NULL;"
        f" INSERT INTO {schema}.outbox (partition_key, envelope, published_at)"
        " VALUES ('a', 'x', NULL), ('b', 'y', NULL), ('c', 'z', now())"
    )
    outbox = Outbox(f"{schema}.outbox", "lrs.challenge.events.v1")
    assert await outbox.pending(pool) == 2
    before = sample("lrs_outbox_relay_failures_total", outbox=outbox.table) or 0.0

    async def failed_and_counted() -> bool:
        failures = (sample("lrs_outbox_relay_failures_total", outbox=outbox.table) or 0.0) - before
        return failures >= 2 and sample("lrs_outbox_pending_rows", outbox=outbox.table) == 2

    relay = asyncio.create_task(outbox.relay_forever(pool, KafkaAway(), asyncio.Event()))
    try:
        await eventually(failed_and_counted, within=30, what="the relay failing, its rows counted")
    finally:
        relay.cancel()
    assert await pool.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL") == 2


async def test_an_outbox_s_backlog_is_counted_up_to_a_bound(pool: asyncpg.Pool) -> None:
    """review1, finding 3: a full count of a registry load's 500,000 rows cost 35-280 ms, every second in every
    replica; the count stops at 10,001 (read: more than 10,000)."""
    schema = f"outbox_{uuid.uuid4().hex[:8]}"
    await pool.execute(
        f"CREATE SCHEMA {schema};"
        f" CREATE TABLE {schema}.outbox (id bigserial PRIMARY KEY, partition_key text NOT NULL,"
        " envelope bytea NOT NULL, published_at timestamptz);"
        f" CREATE INDEX outbox_unpublished ON {schema}.outbox (id) WHERE published_at IS NULL;"
        f" INSERT INTO {schema}.outbox (partition_key, envelope) SELECT 'k', 'x' FROM generate_series(1, 10005);"
        f" INSERT INTO {schema}.outbox (partition_key, envelope, published_at) VALUES ('p', 'y', now())"
    )
    outbox = Outbox(f"{schema}.outbox", "lrs.challenge.events.v1")
    assert await outbox.pending(pool) == 10_001
    await pool.execute(f"UPDATE {schema}.outbox SET published_at = now() WHERE id > 10")
    assert await outbox.pending(pool) == 10
