"""The Kafka loop: outcomes and challenge events in, offsets committed only after the email is logged."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from lrs_contracts.registry import UnknownEventType, decode
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS
from lrs_platform.logging import get_logger
from notifier.handlers import Notifications, RetryLater

TOPICS = (BATCH_OUTCOMES.name, CHALLENGE_EVENTS.name)

_log = get_logger("notifier.consumer")


class NotificationConsumer:
    def __init__(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, notifications: Notifications) -> None:
        self._consumer = consumer
        self._producer = producer
        self._notifications = notifications

    async def run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=1_000, max_records=200)
            for partition, records in batches.items():
                await self._drain(partition, records)

    async def _drain(self, partition: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            try:
                await self._handle(record)
            except RetryLater as retry:
                # Re-read this record after the backoff; later records of the partition wait behind it.
                self._consumer.seek(partition, record.offset)
                await asyncio.sleep(retry.delay)
                return
            await self._consumer.commit({partition: OffsetAndMetadata(record.offset + 1, "")})

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        raw = record.value or b""
        try:
            envelope, payload = decode(raw)
        except UnknownEventType:
            return  # a newer event type this service has no use for
        except (ValidationError, ValueError) as error:
            await self._dead_letter(record, error)
            return
        await self._notifications.handle(envelope, payload)

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: Exception) -> None:
        headers = [
            ("lrs-error", type(error).__name__.encode()),
            ("lrs-error-detail", str(error)[:2000].encode()),
            ("lrs-source-partition", str(record.partition).encode()),
            ("lrs-source-offset", str(record.offset).encode()),
            ("lrs-consumer", b"notifier"),
        ]
        await self._producer.send_and_wait(f"{record.topic}.dlq", value=record.value, key=record.key, headers=headers)
        _log.error("message_dead_lettered", topic=record.topic, partition=record.partition, offset=record.offset)
