"""Relays the learner outbox to `lrs.learner.events.v1`, in order, at least once."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from aiokafka import AIOKafkaProducer

from lrs_contracts.topics import LEARNER_EVENTS
from lrs_platform.logging import get_logger

_log = get_logger("validation.outbox")


async def relay_once(pool: asyncpg.Pool, producer: AIOKafkaProducer, limit: int = 1_000) -> int:
    async with pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            "SELECT id, uln, envelope FROM validation.learner_outbox WHERE published_at IS NULL"
            " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit,
        )
        if not rows:
            return 0
        sent = [
            await producer.send(LEARNER_EVENTS.name, key=row["uln"].encode(), value=row["envelope"]) for row in rows
        ]
        await asyncio.gather(*sent)
        await connection.execute(
            "UPDATE validation.learner_outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
            [row["id"] for row in rows],
        )
    return len(rows)


async def relay_forever(pool: asyncpg.Pool, producer: AIOKafkaProducer, wake: asyncio.Event) -> None:
    while True:
        try:
            relayed = await relay_once(pool, producer)
        except (OSError, asyncpg.PostgresError) as error:
            _log.warning("learner_outbox_relay_failed", error=type(error).__name__)
            relayed = 0
        if relayed == 0:
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=1.0)
