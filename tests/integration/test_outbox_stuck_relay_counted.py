"""report-e2e, finding 1: with Kafka stopped a relay's pass waited, in its transaction, for as long as the producer
waited for the broker, and `lrs_outbox_pending_rows` read 0 and `lrs_outbox_relay_failures_total` did not move for
minutes. Against PostgreSQL, a producer that never delivers: the pass is bounded and rolled back, the rows stay, and
they are counted while the relay is stuck."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from prometheus_client import REGISTRY
from tests.support.waiting import eventually

from lrs_platform import outbox as outbox_module
from lrs_platform.outbox import Outbox


def sample(name: str, table: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"outbox": table})


class NeverDelivers:
    """A producer whose broker is away: a message is taken, its delivery never finishes."""

    async def send(self, topic: str, *, key: bytes, value: bytes) -> asyncio.Future[None]:
        return asyncio.get_running_loop().create_future()


async def test_a_relay_stuck_in_a_publish_fails_and_its_rows_are_counted(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "PUBLISHED_WITHIN_SECONDS", 0.5)
    monkeypatch.setattr(outbox_module, "PENDING_EVERY_SECONDS", 0.2)
    monkeypatch.setattr(outbox_module, "PENDING_AFTER_SECONDS", 0.5)
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
    before = sample("lrs_outbox_relay_failures_total", outbox.table) or 0.0

    async def failed_and_counted() -> bool:
        failures = (sample("lrs_outbox_relay_failures_total", outbox.table) or 0.0) - before
        return failures >= 2 and sample("lrs_outbox_pending_rows", outbox.table) == 2

    relay = asyncio.create_task(outbox.relay_forever(pool, NeverDelivers(), asyncio.Event()))
    try:
        await eventually(failed_and_counted, within=30, what="the stuck relay failing, its rows counted")
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
    assert await pool.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL") == 2
