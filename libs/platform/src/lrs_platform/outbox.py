"""The transactional outbox relay: rows written with a state change, published to Kafka in order.

A service writes its event into `<schema>.<table>` (columns `id bigserial`, `partition_key text`,
`envelope bytea`, `published_at timestamptz`) in the same transaction as the change it describes.
The relay publishes unpublished rows in id order and marks them, one replica's relay at a time (an advisory
lock of the table). A crash after the send and before
the mark re-sends: consumers drop the copy by its (deterministic) event id. So does a pass whose publish Kafka has
not taken within `PUBLISHED_WITHIN_SECONDS`: it is rolled back (its rows stay unpublished, the next pass sends them
again, after any of the first copies the producer still delivers).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge

from lrs_platform.consumer import Failure, classify_failure
from lrs_platform.database import advisory_lock_key
from lrs_platform.logging import get_logger

_log = get_logger("lrs.outbox")

PENDING_EVERY_SECONDS = 10.0  # on a timer of its own: each replica counts the same table
PENDING_AFTER_SECONDS = 20.0  # a row waiting less long is not counted: a healthy relay's fresh row is not "pending"
PENDING_COUNTED_WITHIN_SECONDS = 5.0  # a count PostgreSQL does not answer by then is left for the next
PENDING_COUNTED_UP_TO = 10_000  # a count of more reads PENDING_COUNTED_UP_TO + 1: "more than 10,000"
PENDING = Gauge(
    "lrs_outbox_pending_rows",
    f"Outbox rows not yet published to Kafka {PENDING_AFTER_SECONDS:g} s or more after they were written, counted"
    f" every {PENDING_EVERY_SECONDS:g} s whatever the relay is doing; counted up to {PENDING_COUNTED_UP_TO:,}:"
    f" {PENDING_COUNTED_UP_TO + 1} reads 'more than {PENDING_COUNTED_UP_TO:,}' (each replica counts the same table:"
    " use max)",
    ["outbox"],
)
RELAY_FAILURES = Counter(
    "lrs_outbox_relay_failures_total",
    "Failed attempts of an outbox relay to publish (Kafka or PostgreSQL away)",
    ["outbox"],
)


PUBLISHED_WITHIN_SECONDS = 30.0  # a pass whose messages Kafka has not taken by then fails (and is rolled back)
PUBLISHED_KEPT = timedelta(days=7)  # a row once published: only the topic is read, so the row goes after a while
PRUNE_EVERY_SECONDS = 3600.0
PRUNED_AT_ONCE = 10_000


@dataclass(frozen=True)
class Outbox:
    table: str  # schema-qualified, e.g. "challenges.outbox"
    topic: str
    batch_size: int = 500

    @property
    def _relay_lock(self) -> int:
        return advisory_lock_key(f"outbox-relay:{self.table}")

    async def relay_once(self, pool: asyncpg.Pool, producer: AIOKafkaProducer) -> int:
        """Publishes the next unpublished rows, in id order; 0 when there are none, or when another replica's relay
        is publishing. One relay at a time: with rows skipped while another held them, a replica published a
        learner's later row while the other was still sending the earlier one."""
        async with pool.acquire() as connection, connection.transaction():
            if not await connection.fetchval("SELECT pg_try_advisory_xact_lock($1)", self._relay_lock):
                return 0
            rows = await connection.fetch(
                f"SELECT id, partition_key, envelope FROM {self.table} WHERE published_at IS NULL ORDER BY id LIMIT $1",
                self.batch_size,
            )
            if not rows:
                return 0
            # bounded: with the broker away the producer waits (for metadata, then to deliver) for minutes, the
            # pass with it, in its transaction; a TimeoutError rolls it back and the relay backs off
            async with asyncio.timeout(PUBLISHED_WITHIN_SECONDS):
                sent = [
                    await producer.send(self.topic, key=row["partition_key"].encode(), value=row["envelope"])
                    for row in rows
                ]
                await asyncio.gather(*sent)
            await connection.execute(
                f"UPDATE {self.table} SET published_at = now() WHERE id = ANY($1::bigint[])",
                [row["id"] for row in rows],
            )
        return len(rows)

    async def pending(self, pool: asyncpg.Pool, up_to_id: int | None = None) -> int:
        """How many rows wait to be published (those of an id up to `up_to_id`, if given), up to
        `PENDING_COUNTED_UP_TO` + 1 (which says "more"): over the table's partial index of unpublished rows
        (`… (id) WHERE published_at IS NULL`, which both outboxes have: challenges' `outbox_unpublished`, validation's
        `learner_outbox_unpublished`). Bounded: a full count of a registry load's 500,000 rows took 35-280 ms (a heap
        scan until the table is vacuumed), in every replica."""
        if up_to_id is None:
            return int(
                await pool.fetchval(
                    f"SELECT count(*) FROM (SELECT 1 FROM {self.table} WHERE published_at IS NULL LIMIT $1) AS waiting",
                    PENDING_COUNTED_UP_TO + 1,
                )
            )
        return int(
            await pool.fetchval(
                f"SELECT count(*) FROM (SELECT 1 FROM {self.table} WHERE published_at IS NULL AND id <= $2"
                " LIMIT $1) AS waiting",
                PENDING_COUNTED_UP_TO + 1,
                up_to_id,
            )
        )

    async def newest_id(self, pool: asyncpg.Pool) -> int:
        """The highest id written so far (0 for none): the end of the primary key's index."""
        return int(await pool.fetchval(f"SELECT coalesce(max(id), 0) FROM {self.table}"))

    async def count_pending(self, pool: asyncpg.Pool, marks: deque[tuple[float, int]]) -> None:
        """One count of `lrs_outbox_pending_rows`: the rows still unpublished that were written at least
        `PENDING_AFTER_SECONDS` ago. Validation's `learner_outbox` has no creation time (challenges' `outbox` has
        `created_at`), so for both a row's age is told by its id: each count notes the newest id (`marks`: when, which id) and counts the
        unpublished rows up to the id noted `PENDING_AFTER_SECONDS` or more ago (a row of a lower id, even one
        committed since, took its id before then). Not counted before such a mark exists (a replica's first
        `PENDING_AFTER_SECONDS`); left as it was when PostgreSQL does not answer within `PENDING_COUNTED_WITHIN_SECONDS`."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(PENDING_COUNTED_WITHIN_SECONDS):
                now = time.monotonic()
                marks.append((now, await self.newest_id(pool)))
                old = None
                while marks and now - marks[0][0] >= PENDING_AFTER_SECONDS:
                    old = marks.popleft()
                if old is not None:
                    marks.appendleft(old)  # the next count's mark, until a newer one is old enough
                    PENDING.labels(self.table).set(await self.pending(pool, old[1]))

    async def count_pending_forever(self, pool: asyncpg.Pool) -> None:
        """`count_pending` every `PENDING_EVERY_SECONDS`, whatever the relay is doing: counted between its passes,
        the gauge read 0 for as long as a pass waited for an absent broker (the whole outage)."""
        marks: deque[tuple[float, int]] = deque()
        while True:
            await self.count_pending(pool, marks)
            await asyncio.sleep(PENDING_EVERY_SECONDS)

    async def prune_some(self, pool: asyncpg.Pool, older_than: timedelta = PUBLISHED_KEPT) -> int:
        """Deletes up to `PRUNED_AT_ONCE` rows published more than `older_than` ago (the oldest first); returns how
        many. Nothing reads a published row (the topic, kept forever, is what readers read): kept, they grew a
        learner's registration by 1.3 KB, 60% of all it stored."""
        deleted = await pool.fetchval(
            f"WITH gone AS (DELETE FROM {self.table} WHERE id IN (SELECT id FROM {self.table}"
            " WHERE published_at < now() - $1::interval ORDER BY id LIMIT $2) RETURNING 1) SELECT count(*) FROM gone",
            older_than,
            PRUNED_AT_ONCE,
        )
        return int(deleted)

    async def relay_forever(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, wake: asyncio.Event) -> None:
        """Relays until cancelled; `wake` is set by writers so a new row goes out at once. Once an hour, when
        nothing waits, the rows published a week ago go, `PRUNED_AT_ONCE` at a time between relays (the first
        pass over a large table does not hold new rows back).

        `lrs_outbox_pending_rows` is counted by a task of its own (`count_pending_forever`), only rows waiting
        `PENDING_AFTER_SECONDS` or more: counted at the top of a turn it counted the row just written (a healthy relay
        fed steadily read 1 at every scrape, review1, finding 3); counted right after a pass it read 0 for as long
        as a pass waited for an absent broker. Each failure counts in `lrs_outbox_relay_failures_total`; a streak of
        them is logged once (`outbox_relay_failed`), and its end (`outbox_relay_recovered`)."""
        RELAY_FAILURES.labels(self.table)  # from 0 at the start: `increase()` sees the first failure
        counter = asyncio.create_task(self.count_pending_forever(pool))
        try:
            await self._relay_forever(pool, producer, wake)
        finally:
            counter.cancel()
            await asyncio.gather(counter, return_exceptions=True)

    async def _relay_forever(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, wake: asyncio.Event) -> None:
        delay = 0.2
        pruned_at: float | None = None  # never yet: the monotonic clock starts at the host's boot, not at 0 an hour ago
        more_to_prune = False
        failures = 0  # of the current streak
        while True:
            try:
                relayed = await self.relay_once(pool, producer)
                if failures:
                    _log.info("outbox_relay_recovered", table=self.table, failures=failures)
                    failures = 0
                if relayed == 0 and (
                    more_to_prune or pruned_at is None or time.monotonic() - pruned_at >= PRUNE_EVERY_SECONDS
                ):
                    pruned_at = time.monotonic()
                    pruned = await self.prune_some(pool)
                    more_to_prune = pruned == PRUNED_AT_ONCE
                    if pruned:
                        _log.info("outbox_pruned", table=self.table, rows=pruned)
                delay = 0.2
            except Exception as error:
                RELAY_FAILURES.labels(self.table).inc()
                if classify_failure(error) is not Failure.TRANSIENT:
                    raise
                if not failures:
                    _log.warning("outbox_relay_failed", table=self.table, error=type(error).__name__, retry_in=delay)
                failures += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if relayed == 0 and not more_to_prune:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=1.0)
