"""Relays the challenge outbox to `lrs.challenge.events.v1`, keyed by achievement id, at least once."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from lrs_contracts.topics import CHALLENGE_EVENTS
from lrs_platform.logging import get_logger

_log = get_logger("challenges.outbox")


async def relay_once(pool: asyncpg.Pool, producer: AIOKafkaProducer, limit: int = 500) -> int:
    async with pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            "SELECT id, partition_key, envelope FROM challenges.outbox WHERE published_at IS NULL"
            " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit,
        )
        if not rows:
            return 0
        # A crash after the send and before this commit re-sends: consumers dedupe by the deterministic event id.
        sent = [
            await producer.send(CHALLENGE_EVENTS.name, key=row["partition_key"].encode(), value=row["envelope"])
            for row in rows
        ]
        await asyncio.gather(*sent)
        await connection.execute(
            "UPDATE challenges.outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
            [row["id"] for row in rows],
        )
    return len(rows)


async def relay_forever(pool: asyncpg.Pool, producer: AIOKafkaProducer, wake: asyncio.Event) -> None:
    delay = 0.2
    while True:
        try:
            relayed = await relay_once(pool, producer)
            delay = 0.2
        except (OSError, asyncpg.PostgresError, KafkaError) as error:
            _log.warning("challenge_outbox_relay_failed", error=type(error).__name__, retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            continue
        if relayed == 0:
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=1.0)
