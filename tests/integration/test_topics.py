"""The topics every service creates at start agree with the contracts and the manifests."""

from __future__ import annotations

import uuid

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from lrs_contracts.topics import Topic
from lrs_platform.kafka import ensure_topics


async def test_a_dead_letter_topic_keeps_parked_messages_forever(kafka_bootstrap: str) -> None:
    topic = Topic(
        f"lrs.test.{uuid.uuid4().hex[:8]}.v1",
        key="AO id",
        compacted=False,
        retention="7 days",
        carries=(),
        partitions=2,
    )

    await ensure_topics(kafka_bootstrap, [topic])

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic.dead_letters)])
    finally:
        await admin.close()
    configs = {entry[0]: entry[1] for entry in described[0].resources[0][4]}
    assert configs["retention.ms"] == "-1"
