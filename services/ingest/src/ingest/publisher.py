"""Kafka adapter: one transactional producer per process; a batch is published whole or not at all.

The producer starts lazily, so the service comes up (and answers reads, and 503 for submissions)
while Kafka is away. After any failure inside a transaction the producer is thrown away: the next
publish builds a new one under the same transactional id, which fences the old one and makes the
broker abort whatever it left open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from lrs_platform.kafka import ensure_topics, make_producer
from lrs_platform.logging import get_logger

_log = get_logger("ingest.publisher")

ProducerFactory = Callable[..., AIOKafkaProducer]


class PublishUnavailable(Exception):
    """Kafka could not take the batch; the transaction was aborted (or never began)."""


class TransactionalPublisher:
    def __init__(
        self,
        bootstrap_servers: str,
        transactional_id: str,
        *,
        start_timeout: float,
        transaction_timeout: float,
        producer_factory: ProducerFactory = make_producer,
        prepare_topics: Callable[[str], Awaitable[None]] = ensure_topics,
    ) -> None:
        self.transactional_id = transactional_id
        self._bootstrap = bootstrap_servers
        self._start_timeout = start_timeout
        self._transaction_timeout = transaction_timeout
        self._producer_factory = producer_factory
        self._prepare_topics = prepare_topics
        self._producer: AIOKafkaProducer | None = None
        self._topics_ready = False
        self._lock = asyncio.Lock()  # one transaction at a time: a transactional producer allows no more

    async def warm_up(self) -> None:
        """Best effort at start-up, so the first submission does not pay for connecting."""
        try:
            async with self._lock:
                await self._started()
        except PublishUnavailable as error:
            _log.warning("kafka_unavailable_at_start", error=str(error))

    async def publish(self, topic: str, key: bytes, values: Sequence[bytes], headers: Sequence[Any] = ()) -> None:
        """Sends every value to `topic` under `key` in one transaction; raises PublishUnavailable."""
        async with self._lock:
            producer = await self._started()
            try:
                await asyncio.wait_for(
                    self._transaction(producer, topic, key, values, list(headers)), self._transaction_timeout
                )
            except asyncio.CancelledError:
                await self._discard()
                raise
            except Exception as error:
                await self._discard()
                raise PublishUnavailable(f"{type(error).__name__}: {error}") from error

    async def stop(self) -> None:
        async with self._lock:
            await self._discard()

    async def _transaction(
        self, producer: AIOKafkaProducer, topic: str, key: bytes, values: Sequence[bytes], headers: list[Any]
    ) -> None:
        async with producer.transaction():
            deliveries = [await producer.send(topic, value=value, key=key, headers=headers or None) for value in values]
            await asyncio.gather(*deliveries)

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        try:
            if not self._topics_ready:
                await asyncio.wait_for(self._prepare_topics(self._bootstrap), self._start_timeout)
                self._topics_ready = True
            producer = self._producer_factory(self._bootstrap, transactional_id=self.transactional_id)
        except Exception as error:
            raise PublishUnavailable(f"{type(error).__name__}: {error}") from error
        try:
            await asyncio.wait_for(producer.start(), self._start_timeout)
        except Exception as error:
            await _stop_quietly(producer, self._start_timeout)
            raise PublishUnavailable(f"{type(error).__name__}: {error}") from error
        self._producer = producer
        return producer

    async def _discard(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await _stop_quietly(producer, self._start_timeout)


async def _stop_quietly(producer: AIOKafkaProducer, timeout: float) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.stop(), timeout)
