"""An `accepted` batch not decided yet, whose file (or key) is sent again, is published again under its id, against
real Kafka and PostgreSQL: its messages may be gone from the submitted topic, which keeps them 7 days, and sending
the file again is the AO's way to have it decided (the exhaust walk, finding 1; validation decides a batch once, by
its id). No decider runs here, so every batch stays `accepted`. The shared submitted topic is only read, from its
ends as they were before the resend."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import TopicPartition
from tests.integration.ingest_service import ingest_service  # noqa: F401 - the module's `ingest` fixture
from tests.integration.test_ingest_api import (  # noqa: F401 - ingest_database_url is a fixture
    Ingest,
    batch_file,
    ingest_database_url,
)
from tests.integration.test_ingest_uploads import _submitted

from lrs_contracts.batch import BatchSubmitted
from lrs_contracts.registry import decode
from lrs_contracts.topics import BATCH_SUBMITTED
from lrs_platform.kafka import make_consumer, topic_partitions

pytestmark = pytest.mark.integration


async def _ends(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(await topic_partitions(bootstrap, BATCH_SUBMITTED.name)))
    finally:
        await consumer.stop()


async def _batches_submitted_since(bootstrap: str, since: dict[TopicPartition, int]) -> list[uuid.UUID]:
    """The ids of the batches whose start (`BatchSubmitted`) was published past `since`, up to the ends now."""
    ends = await _ends(bootstrap)
    waiting = {tp for tp, end in ends.items() if end > since.get(tp, 0)}
    if not waiting:
        return []
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    found: list[uuid.UUID] = []
    try:
        consumer.assign(list(waiting))
        for tp in waiting:
            consumer.seek(tp, since.get(tp, 0))
        async with asyncio.timeout(30):
            while waiting:
                for tp, records in (await consumer.getmany(*waiting, timeout_ms=500)).items():
                    for record in records:
                        payload = decode(record.value)[1]
                        if isinstance(payload, BatchSubmitted):
                            found.append(payload.batch_id)
                    if await consumer.position(tp) >= ends[tp]:
                        waiting.discard(tp)
    finally:
        await consumer.stop()
    return found


@pytest.mark.parametrize("keyed", [False, True], ids=["keyless", "keyed"])
async def test_an_undecided_batch_sent_again_is_published_again_under_its_id(ingest: Ingest, keyed: bool) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id, records=4, reference="RESENT")
    key = {"Idempotency-Key": f"client-{uuid.uuid4().hex}"} if keyed else {}
    batch_id, replay = await _submitted(ingest, headers, content, **key)
    assert replay == "false"
    before = await _ends(ingest.kafka_bootstrap)

    assert await _submitted(ingest, headers, content, **key) == (batch_id, "true")

    assert await _batches_submitted_since(ingest.kafka_bootstrap, before) == [batch_id]
    status = await ingest.client.get(f"/v1/batches/{batch_id}", headers=headers)
    assert status.json()["status"] == "accepted"
