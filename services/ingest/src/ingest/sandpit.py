"""Ingest's part of the Sandpit (docs/decisions/0060-sandpit.md): an AO's reset, asked for and followed.

`POST /v1/sandpit/reset` stores the reset and puts `SandpitReset` in the AO's queue (after the batches
the AO sent before it). The decider applies it and says so on the outcomes topic; the follower here
then waits until the batch view shows the decision of every batch of the AO received before the
reset (its last outcome read: no later outcome re-creates the view), deletes those batch views and
marks the reset `completed`. Its routes (`ingest.sandpit_api`) exist only on a Sandpit instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime
from typing import Literal

import asyncpg
from pydantic import BaseModel, Field

from ingest.outcomes import CONSUMER as BATCH_VIEW
from ingest.publisher import PublishUnavailable, TransactionalPublisher
from ingest.service import DecisionSignal
from lrs_contracts.envelope import utc_now
from lrs_contracts.environments import TopicNames
from lrs_contracts.registry import decode, encode, wrap
from lrs_contracts.sandpit import SandpitReset, SandpitResetApplied
from lrs_contracts.topics import BATCH_OUTCOMES, BATCH_SUBMITTED
from lrs_platform.consumer import Failure, classify_failure
from lrs_platform.kafka import make_consumer
from lrs_platform.logging import get_logger

_log = get_logger("ingest.sandpit")

SOURCE = "ingest"
FOLLOWER_GROUP = "ingest-sandpit-resets"


class ResetView(BaseModel):
    reset_id: uuid.UUID
    ao_id: str
    status: Literal["pending", "completed"]
    requested_by: str
    requested_at: datetime
    completed_at: datetime | None = None
    learners: int | None = Field(default=None, description="learners whose PLR held the AO's achievements")
    batches_deleted: int | None = None
    plr_min_offsets: str | None = Field(
        default=None, description="pass as `min_offsets` to a PLR read to see the reset there too"
    )


def _view(row: asyncpg.Record) -> ResetView:
    return ResetView(**dict(row))


class SandpitResetStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, reset: SandpitReset) -> None:
        await self._pool.execute(
            "INSERT INTO ingest.sandpit_resets (reset_id, ao_id, requested_by, requested_at) VALUES ($1, $2, $3, $4)",
            reset.reset_id,
            reset.ao_id,
            reset.requested_by,
            reset.requested_at,
        )

    async def forget(self, reset_id: uuid.UUID) -> None:
        await self._pool.execute("DELETE FROM ingest.sandpit_resets WHERE reset_id = $1", reset_id)

    async def get(self, reset_id: uuid.UUID) -> ResetView | None:
        row = await self._pool.fetchrow("SELECT * FROM ingest.sandpit_resets WHERE reset_id = $1", reset_id)
        return _view(row) if row else None

    async def idle_aos(self, idle_days: int) -> list[str]:
        """AOs whose newest Sandpit batch is older than `idle_days`."""
        rows = await self._pool.fetch(
            "SELECT ao_id FROM ingest.batches WHERE ao_id IS NOT NULL GROUP BY ao_id"
            " HAVING max(received_at) < now() - make_interval(days => $1) ORDER BY ao_id",
            idle_days,
        )
        return [row["ao_id"] for row in rows]

    async def undecided_before(self, applied: SandpitResetApplied) -> int:
        """How many of the batches the reset forgot do not show their decision yet (a decider before
        decision 0120 names none: then the AO's batches received before the reset and published)."""
        if applied.forgotten_batches is not None:
            # one whose outcome the batch view parked shows its decision only once an operator acts: not waited for
            forgotten: int = await self._pool.fetchval(
                "SELECT count(*) FROM ingest.batches b WHERE batch_id = ANY($1::uuid[])"
                " AND status IN ('received', 'accepted', 'validating')"
                " AND NOT EXISTS (SELECT 1 FROM ingest_parked.parked_messages p"
                "   WHERE p.consumer = $2 AND p.message_key = convert_to(b.batch_id::text, 'UTF8'))",
                list(applied.forgotten_batches),
                BATCH_VIEW,
            )
            return forgotten
        count: int = await self._pool.fetchval(
            "SELECT count(*) FROM ingest.sandpit_resets r JOIN ingest.batches b ON b.ao_id = r.ao_id"
            " AND b.received_at <= r.requested_at WHERE r.reset_id = $1 AND b.status IN ('accepted', 'validating')",
            applied.reset_id,
        )
        return count

    async def complete(self, applied: SandpitResetApplied) -> None:
        """Deletes the views of the batches the reset forgot and marks it completed; once.

        The decider names the batches it had decided before the reset, in the AO's queue: a batch sent
        before the reset but queued after it (its upload still being read when the reset was asked for) is
        decided on the fresh Sandpit, and its view stays. Batches that never reached the queue, refused at
        the door or given up, go by when they were received. A decider before decision 0120 names none:
        then every batch received before the reset goes."""
        async with self._pool.acquire() as connection, connection.transaction():
            requested_at = await connection.fetchval(
                "SELECT requested_at FROM ingest.sandpit_resets WHERE reset_id = $1 AND status = 'pending' FOR UPDATE",
                applied.reset_id,
            )
            if requested_at is None:
                return
            if applied.forgotten_batches is None:
                deleted = await connection.fetch(
                    "DELETE FROM ingest.batches WHERE ao_id = $1 AND received_at <= $2 RETURNING batch_id",
                    applied.ao_id,
                    requested_at,
                )
            else:
                deleted = await connection.fetch(
                    "DELETE FROM ingest.batches WHERE ao_id = $1 AND (batch_id = ANY($3::uuid[])"
                    " OR (received_at <= $2 AND status IN ('refused', 'abandoned'))) RETURNING batch_id",
                    applied.ao_id,
                    requested_at,
                    list(applied.forgotten_batches),
                )
            batches = [row["batch_id"] for row in deleted]
            await connection.execute("DELETE FROM ingest.batch_record_chunks WHERE batch_id = ANY($1::uuid[])", batches)
            # kept forgotten: an outcome of theirs delivered again (ingest stopped before storing its offsets) is dropped
            await connection.execute(
                "INSERT INTO ingest.forgotten_batches (batch_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING",
                list({*batches, *(applied.forgotten_batches or ())}),
            )
            await connection.execute(
                "UPDATE ingest.sandpit_resets SET status = 'completed', completed_at = now(), learners = $2,"
                " batches_deleted = $3, plr_min_offsets = $4 WHERE reset_id = $1",
                applied.reset_id,
                applied.learners,
                len(batches),
                ",".join(f"{offset.partition}:{offset.next_offset}" for offset in applied.plr_offsets) or None,
            )


class SandpitResets:
    """Asks for resets: stored first, then published in the AO's queue (the publish failing forgets it)."""

    def __init__(self, store: SandpitResetStore, publisher: TransactionalPublisher, topics: TopicNames) -> None:
        self.store = store
        self._publisher = publisher
        self._topic = topics.of(BATCH_SUBMITTED)

    async def request(self, ao_id: str, requested_by: str) -> ResetView:
        reset = SandpitReset(reset_id=uuid.uuid4(), ao_id=ao_id, requested_by=requested_by, requested_at=utc_now())
        await self.store.add(reset)
        envelope = wrap(reset, source=SOURCE, correlation_id=str(reset.reset_id))
        try:
            await self._publisher.publish(self._topic, ao_id.encode(), [encode(envelope)])
        except PublishUnavailable:
            await self.store.forget(reset.reset_id)
            raise
        _log.info("sandpit_reset_requested", reset_id=str(reset.reset_id), ao_id=ao_id, by=requested_by)
        view = await self.store.get(reset.reset_id)
        assert view is not None
        return view


class ResetFollower:
    """Completes resets as the decider applies them (`SandpitResetApplied` on the outcomes topic)."""

    def __init__(
        self,
        store: SandpitResetStore,
        bootstrap_servers: str,
        topics: TopicNames,
        decisions: DecisionSignal | None,
    ) -> None:
        self._store = store
        self._bootstrap = bootstrap_servers
        self._topic = topics.of(BATCH_OUTCOMES)
        self._group = topics.group(FOLLOWER_GROUP)
        self._decisions = decisions

    async def run(self) -> None:
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Kafka or PostgreSQL away: start again from the committed offsets
                _log.warning("sandpit_reset_follower_restarting", error=type(error).__name__)
                await asyncio.sleep(2.0)

    async def _follow(self) -> None:
        consumer = make_consumer(self._bootstrap, self._topic, group_id=self._group)
        await consumer.start()
        try:
            while True:
                polled = await consumer.getmany(timeout_ms=500, max_records=100)
                for records in polled.values():
                    for record in records:
                        applied = _applied(record.value)
                        if applied is not None:
                            await self._complete(applied)
                if polled:
                    await consumer.commit()
        finally:
            await consumer.stop()

    async def _complete(self, applied: SandpitResetApplied) -> None:
        """Completes the reset; one that cannot be completed (a value PostgreSQL refuses, say) is logged and
        left `pending`, never retried for ever in front of the other AOs' resets. Kafka or PostgreSQL away
        raises, and the follower starts again from its committed offsets."""
        try:
            await self._batch_views_decided(applied)
            await self._store.complete(applied)
        except Exception as error:
            if classify_failure(error) is Failure.TRANSIENT:
                raise
            _log.error("sandpit_reset_not_completed", reset_id=str(applied.reset_id), error=type(error).__name__)
            return
        _log.info("sandpit_reset_completed", reset_id=str(applied.reset_id), ao_id=applied.ao_id)

    async def _batch_views_decided(self, applied: SandpitResetApplied) -> None:
        """Waits until every batch of the AO that the decider decided before the reset shows its decision:
        its last outcome is then read, and deleting its view is final (no later outcome re-creates it)."""
        if self._decisions is None:
            return
        while True:
            change = self._decisions.next_change()
            if not await self._store.undecided_before(applied):
                return
            with contextlib.suppress(TimeoutError):  # the view may also be updated by another instance
                await asyncio.wait_for(change.wait(), timeout=1.0)


def _applied(raw: bytes | None) -> SandpitResetApplied | None:
    try:
        _, payload = decode(raw or b"")
    except ValueError:
        return None  # the batch view's consumer parks what it cannot read
    return payload if isinstance(payload, SandpitResetApplied) else None
