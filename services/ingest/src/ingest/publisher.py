"""Kafka adapter: one transactional producer per process; a batch is published whole or not at all.

The producer starts lazily, so the service comes up (and answers reads, and 503 for submissions)
while Kafka is away. Every publish is answered within its time limit, waiting for an earlier publish
and connecting included: the transaction runs as a task of its own, and a transaction that fails or
outlives the limit is abandoned with its producer, never aborted, because aborting waits for a broker
that may not answer for minutes. The next publish builds a new producer under the same transactional
id, which fences the old one and makes the broker abort whatever it left open; the broker also aborts
it on its own once the transaction timeout (the publish time limit) has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError

from lrs_platform.kafka import ensure_topics, make_producer
from lrs_platform.logging import get_logger

_log = get_logger("ingest.publisher")

ProducerFactory = Callable[..., AIOKafkaProducer]


class PublishUnavailable(Exception):
    """Kafka did not take the batch within the time limit; nothing of it is visible to consumers."""


class TransactionalPublisher:
    def __init__(
        self,
        bootstrap_servers: str,
        transactional_id: str,
        *,
        start_timeout: float,
        publish_timeout: float,
        producer_factory: ProducerFactory = make_producer,
        prepare_topics: Callable[[str], Awaitable[None]] = ensure_topics,
    ) -> None:
        self.transactional_id = transactional_id
        self._bootstrap = bootstrap_servers
        self._start_timeout = start_timeout
        self._publish_timeout = publish_timeout
        self._producer_factory = producer_factory
        self._prepare_topics = prepare_topics
        self._producer: AIOKafkaProducer | None = None
        self._topics_ready = False
        self._lock = asyncio.Lock()  # one transaction at a time: a transactional producer allows no more
        self._discarding: set[asyncio.Task[None]] = set()

    async def warm_up(self) -> None:
        """Best effort at start-up, so the first submission does not pay for connecting."""
        try:
            async with self._lock:
                await self._started(self._deadline(self._publish_timeout))
        except PublishUnavailable as error:
            _log.warning("kafka_unavailable_at_start", error=str(error))

    async def publish(
        self,
        topic: str,
        key: bytes,
        values: Sequence[bytes],
        headers: Sequence[Any] = (),
        *,
        within: float | None = None,
    ) -> None:
        """Sends every value to `topic` under `key` in one transaction; raises PublishUnavailable when that
        is not done within `within` seconds (the publish timeout by default)."""
        limit = self._publish_timeout if within is None else within
        deadline = self._deadline(limit)
        try:
            async with asyncio.timeout_at(deadline):
                await self._lock.acquire()
        except TimeoutError:
            raise PublishUnavailable(f"an earlier publish still held the producer after {limit:g} s") from None
        try:
            producer = await self._started(deadline)
            transaction = asyncio.create_task(self._transaction(producer, topic, key, values, list(headers)))
            try:
                await asyncio.wait({transaction}, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
            except asyncio.CancelledError:
                transaction.cancel()
                self._throw_away(producer, transaction)
                raise
            if not transaction.done():
                transaction.cancel()
                self._throw_away(producer, transaction)
                raise PublishUnavailable(f"Kafka did not commit the transaction within {limit:g} s")
            failure = asyncio.CancelledError() if transaction.cancelled() else transaction.exception()
            if failure is not None:
                self._throw_away(producer, transaction)
                raise PublishUnavailable(f"{type(failure).__name__}: {failure}") from failure
        finally:
            self._lock.release()

    async def stop(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
            if producer is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), self._start_timeout)
        if self._discarding:
            await asyncio.wait(self._discarding, timeout=self._start_timeout)

    async def _transaction(
        self, producer: AIOKafkaProducer, topic: str, key: bytes, values: Sequence[bytes], headers: list[Any]
    ) -> None:
        # Not `producer.transaction()`: its exit aborts on failure, and an abort waits for the broker.
        await producer.begin_transaction()
        deliveries = []
        for value in values:
            delivery = await producer.send(topic, value=value, key=key, headers=headers or None)
            # an abandoned transaction's deliveries fail with no one waiting for them: no warnings
            delivery.add_done_callback(_observed)
            deliveries.append(delivery)
        await asyncio.gather(*deliveries)
        await producer.commit_transaction()

    async def _started(self, deadline: float) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        timeout = min(self._start_timeout, max(0.0, deadline - asyncio.get_running_loop().time()))
        try:
            if not self._topics_ready:
                await asyncio.wait_for(self._prepare_topics(self._bootstrap), timeout)
                self._topics_ready = True
            producer = self._producer_factory(
                self._bootstrap,
                transactional_id=self.transactional_id,
                request_timeout_ms=int(self._start_timeout * 1000),
                transaction_timeout_ms=int(self._publish_timeout * 1000),
            )
        except Exception as error:
            raise PublishUnavailable(f"{type(error).__name__}: {error}") from error
        try:
            await asyncio.wait_for(producer.start(), timeout)
        except Exception as error:
            self._throw_away(producer)
            raise PublishUnavailable(f"{type(error).__name__}: {error}") from error
        self._producer = producer
        return producer

    def _throw_away(self, producer: AIOKafkaProducer, transaction: asyncio.Task[None] | None = None) -> None:
        """Stops the producer in the background: the caller is answered at once."""
        if self._producer is producer:
            self._producer = None
        task = asyncio.create_task(_discard(producer, transaction, self._start_timeout))
        self._discarding.add(task)
        task.add_done_callback(self._discarding.discard)

    def _deadline(self, seconds: float) -> float:
        return asyncio.get_running_loop().time() + seconds


def _observed(delivery: asyncio.Future[Any]) -> None:
    if not delivery.cancelled():
        delivery.exception()


async def _discard(producer: AIOKafkaProducer, transaction: asyncio.Task[None] | None, timeout: float) -> None:
    if transaction is not None:
        await asyncio.wait({transaction}, timeout=timeout)
    _fail_queued(producer)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.stop(), timeout)


def _fail_queued(producer: AIOKafkaProducer) -> None:
    """stop() first delivers what is still queued, for ever while the broker is away; what is queued
    belongs to the abandoned transaction, so it is failed instead. aiokafka leaves each failed batch's
    drain waiter unobserved, which would log "Future exception was never retrieved": observe them."""
    accumulator = getattr(producer, "_message_accumulator", None)
    if accumulator is None:
        return
    queued = [*itertools.chain.from_iterable(accumulator._batches.values()), *accumulator._pending_batches]
    accumulator.fail_all(KafkaTimeoutError("the transaction was abandoned"))
    for batch in queued:
        _observed(batch._drain_waiter)
