"""A Sandpit reset Kafka did not take in time stays in ingest's store, pending and not queued, and is sent
again until Kafka takes it: a send that timed out may have reached the topic, and the reset then be applied,
so ingest must still know the reset (`GET /v1/sandpit/resets/{id}` answered 404 for one that happened)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from tests.support.databases import ingest_pool

from ingest.publisher import PublishUnavailable
from ingest.sandpit import ResetNotQueued, SandpitResets, SandpitResetStore
from lrs_contracts.environments import Environment, TopicNames
from lrs_contracts.sandpit import SandpitResetApplied

pytestmark = pytest.mark.integration

AO = "RN5133"


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with ingest_pool(fresh_database_url) as pool:
        yield pool


class Kafka:
    def __init__(self) -> None:
        self.away = True
        self.sent = 0

    async def publish(self, topic: str, key: bytes, values: Sequence[bytes], *_: Any, **__: Any) -> None:
        if self.away:
            raise PublishUnavailable("Kafka did not commit the transaction within 30 s")
        self.sent += len(values)


async def test_a_reset_kafka_did_not_take_is_kept_and_sent_again_until_it_does(pool: asyncpg.Pool) -> None:
    store, kafka = SandpitResetStore(pool), Kafka()
    resets = SandpitResets(store, kafka, TopicNames(Environment.SANDPIT), publish_timeout=0.001)  # type: ignore[arg-type]
    await pool.execute(
        "INSERT INTO ingest.batches (batch_id, ao_id, status, received_at) VALUES ($1, $2, 'completed', now() - interval '100 days')",
        uuid.uuid4(),
        AO,
    )
    assert await store.idle_aos(90) == [AO]

    with pytest.raises(ResetNotQueued) as not_queued:
        await resets.request(AO, f"ao:{AO}")
    reset_id = not_queued.value.reset_id

    kept = await store.get(reset_id)
    assert kept is not None and (kept.status, kept.queued_at) == ("pending", None)
    assert await store.idle_aos(90) == []  # a purge meanwhile asks for no second reset of the AO
    await pool.execute("UPDATE ingest.sandpit_resets SET requested_at = requested_at - interval '1 minute'")
    with pytest.raises(PublishUnavailable):
        await resets.queue_the_rest()

    kafka.away = False
    assert await resets.queue_the_rest() == 1
    assert await resets.queue_the_rest() == 0
    queued = await store.get(reset_id)
    assert queued is not None and queued.status == "pending" and queued.queued_at is not None
    assert kafka.sent == 1


async def test_a_reset_applied_before_ingest_saw_kafka_take_it_is_completed_and_not_sent_again(
    pool: asyncpg.Pool,
) -> None:
    """The send that timed out had reached the topic: the decider applied the reset."""
    store, kafka = SandpitResetStore(pool), Kafka()
    resets = SandpitResets(store, kafka, TopicNames(Environment.SANDPIT), publish_timeout=0.001)  # type: ignore[arg-type]
    with pytest.raises(ResetNotQueued) as not_queued:
        await resets.request(AO, f"ao:{AO}")
    reset_id = not_queued.value.reset_id

    await store.complete(SandpitResetApplied(reset_id=reset_id, ao_id=AO, learners=2, forgotten_batches=()))

    completed = await store.get(reset_id)
    assert completed is not None and completed.status == "completed" and completed.queued_at is not None
    assert await store.not_queued(timedelta(0)) == []
