"""Ingest's part of the Sandpit (docs/decisions/0060-sandpit.md): an AO's reset, asked for and followed.

`POST /v1/sandpit/reset` stores the reset and puts `SandpitReset` in the AO's queue (after the batches
the AO sent before it). A reset Kafka did not take in time stays stored, `pending` and not queued, and is
published again until Kafka takes it (`SandpitResets.run`): a publish that timed out may still have reached
the topic and the reset be applied, so forgetting it left ingest answering 404 for a reset that happened.
Meeting a reset twice is harmless: the decider applies it once by its id and sends again what it stored
(the same event ids, which the projector skips), and the follower completes a reset once.

The decider applies it and says so on the outcomes topic; the follower here
then waits until the batch view shows the decision of every batch of the AO received before the
reset (its last outcome read: no later outcome re-creates the view), deletes those batch views and
marks the reset `completed`. Its routes (`ingest.sandpit_api`) exist only on a Sandpit instance.

A maintenance window or pause does not hold a reset itself: the decider holds at a batch's start, and the reset
waits while a batch of the AO's sent before it waits for the maintenance to end (`SandpitResetStore.get` then
says so, with the same notice as the batch's). While the decider holds, it reads nothing else on its partitions
either, so a reset may also wait behind another AO's held batch; that is not said, as ingest cannot tell which
decider reads which AO's queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

import asyncpg
from pydantic import BaseModel, Field

from ingest.outcomes import CONSUMER as BATCH_VIEW
from ingest.outcomes import ConsumerFactory
from ingest.publisher import PublishUnavailable, TransactionalPublisher
from ingest.service import DecisionSignal
from ingest.views import PUBLISH_MARGIN, MaintenanceNotice
from lrs_contracts.dead_letters import peek_event
from lrs_contracts.envelope import deterministic_id, utc_now
from lrs_contracts.environments import TopicNames
from lrs_contracts.registry import decode, encode, wrap
from lrs_contracts.sandpit import SandpitReset, SandpitResetApplied
from lrs_contracts.topics import BATCH_OUTCOMES, BATCH_SUBMITTED
from lrs_platform.consumer import ConsumerLoop, Failure, Message, PoisonGuard, RetryPolicy, classify_failure
from lrs_platform.kafka import make_consumer
from lrs_platform.logging import get_logger
from lrs_platform.maintenance import Closure
from lrs_platform.parking import DeadLetterOffice

_log = get_logger("ingest.sandpit")

SOURCE = "ingest"
FOLLOWER_GROUP = "ingest-sandpit-resets"


class ResetView(BaseModel):
    reset_id: uuid.UUID
    ao_id: str
    status: Literal["pending", "completed"]
    requested_by: str
    requested_at: datetime
    queued_at: datetime | None = Field(
        default=None,
        description="when Kafka took the reset into the AO's queue; null while it has not (ingest keeps sending it)",
    )
    completed_at: datetime | None = None
    learners: int | None = Field(default=None, description="learners whose PLR held the AO's achievements")
    batches_deleted: int | None = None
    plr_min_offsets: str | None = Field(
        default=None, description="pass as `min_offsets` to a PLR read to see the reset there too"
    )
    maintenance: MaintenanceNotice | None = Field(
        default=None,
        description="while the reset is `pending` behind a batch of the AO's, sent before it, that a Sandpit maintenance"
        " window or pause holds: the reset is applied only after that batch, once the maintenance ends",
    )


def reset_notice(closure: Closure) -> MaintenanceNotice:
    """What a reset waiting behind a held batch says: when it is applied."""
    if closure.until is None:
        message = "will be applied when the Sandpit resumes after an unplanned pause"
    else:
        message = f"will be applied after {closure.until.isoformat().replace('+00:00', 'Z')}"
    return MaintenanceNotice(reason=closure.reason, until=closure.until, paused=closure.paused, message=message)


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

    async def mark_queued(self, reset_id: uuid.UUID) -> datetime | None:
        """Kafka took the reset; when it was first known to (None: the reset is gone)."""
        queued_at: datetime | None = await self._pool.fetchval(
            "UPDATE ingest.sandpit_resets SET queued_at = COALESCE(queued_at, now()) WHERE reset_id = $1"
            " RETURNING queued_at",
            reset_id,
        )
        return queued_at

    async def not_queued(self, asked_before: timedelta) -> list[SandpitReset]:
        """The pending resets Kafka has not been seen to take, asked for more than `asked_before` ago (a request
        publishing one has been answered by then), oldest first."""
        rows = await self._pool.fetch(
            "SELECT reset_id, ao_id, requested_by, requested_at FROM ingest.sandpit_resets"
            " WHERE queued_at IS NULL AND status = 'pending' AND requested_at < now() - $1::interval"
            " ORDER BY requested_at",
            asked_before,
        )
        return [SandpitReset(**dict(row)) for row in rows]

    async def get(self, reset_id: uuid.UUID, closure: Closure | None = None) -> ResetView | None:
        """The reset; with `closure` (maintenance holding batches now), a pending one waiting behind a batch of the
        AO's that the maintenance holds carries the maintenance notice."""
        row = await self._pool.fetchrow("SELECT * FROM ingest.sandpit_resets WHERE reset_id = $1", reset_id)
        if row is None:
            return None
        view = _view(row)
        if closure is not None and view.status == "pending" and await self._behind_a_waiting_batch(view):
            view = view.model_copy(update={"maintenance": reset_notice(closure)})
        return view

    async def _behind_a_waiting_batch(self, view: ResetView) -> bool:
        """Whether a batch of the AO's is ahead of the reset in its queue and not yet started: published (accepted)
        before Kafka took the reset, or at all while Kafka has not (the reset goes in behind it)."""
        waiting: bool = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM ingest.batches WHERE ao_id = $1 AND status = 'accepted'"
            " AND ($2::timestamptz IS NULL OR accepted_at <= $2))",
            view.ao_id,
            view.queued_at,
        )
        return waiting

    async def idle_aos(self, idle_days: int) -> list[str]:
        """AOs whose newest Sandpit batch is older than `idle_days`, but for those with a reset Kafka has not taken
        yet (it is sent again: another would only follow it)."""
        rows = await self._pool.fetch(
            "SELECT ao_id FROM ingest.batches b WHERE ao_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
            " ingest.sandpit_resets r WHERE r.ao_id = b.ao_id AND r.queued_at IS NULL AND r.status = 'pending')"
            " GROUP BY ao_id"
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
                " queued_at = COALESCE(queued_at, now()),"
                " batches_deleted = $3, plr_min_offsets = $4 WHERE reset_id = $1",
                applied.reset_id,
                applied.learners,
                len(batches),
                ",".join(f"{offset.partition}:{offset.next_offset}" for offset in applied.plr_offsets) or None,
            )


class ResetNotQueued(Exception):
    """Kafka did not take the reset in time. It is kept `pending` and published again until Kafka takes it:
    it may be applied all the same (a timed-out publish may have reached the topic)."""

    def __init__(self, reset_id: uuid.UUID, reason: str) -> None:
        super().__init__(reason)
        self.reset_id = reset_id
        self.reason = reason


class SandpitResets:
    """Asks for resets: stored first, then published in the AO's queue; one Kafka did not take is kept and
    published again (`run`), never forgotten."""

    def __init__(
        self,
        store: SandpitResetStore,
        publisher: TransactionalPublisher,
        topics: TopicNames,
        *,
        publish_timeout: float,
    ) -> None:
        self.store = store
        self._publisher = publisher
        self._topic = topics.of(BATCH_SUBMITTED)
        # a reset younger than this may still be publishing in the request that stored it, on any instance
        self._settled = timedelta(seconds=publish_timeout) + PUBLISH_MARGIN

    async def request(self, ao_id: str, requested_by: str) -> ResetView:
        """The reset, stored and queued. Raises ResetNotQueued (the reset kept) when Kafka did not take it."""
        reset = SandpitReset(reset_id=uuid.uuid4(), ao_id=ao_id, requested_by=requested_by, requested_at=utc_now())
        await self.store.add(reset)
        try:
            queued_at = await self._publish(reset)
        except PublishUnavailable as error:
            _log.warning("sandpit_reset_not_queued", reset_id=str(reset.reset_id), ao_id=ao_id, error=str(error))
            raise ResetNotQueued(reset.reset_id, str(error)) from error
        _log.info("sandpit_reset_requested", reset_id=str(reset.reset_id), ao_id=ao_id, by=requested_by)
        return ResetView(**reset.model_dump(exclude={"event_type"}), status="pending", queued_at=queued_at)

    async def queue_the_rest(self) -> int:
        """Publishes the resets Kafka did not take when they were asked for; returns how many it took. Stops at
        the first Kafka does not take (PublishUnavailable): the next round tries again."""
        queued = 0
        for reset in await self.store.not_queued(self._settled):
            await self._publish(reset)
            _log.warning("sandpit_reset_queued_late", reset_id=str(reset.reset_id), ao_id=reset.ao_id)
            queued += 1
        return queued

    async def run(self, retry_every: float = 5.0) -> None:
        """Until cancelled: every `retry_every` seconds, the resets Kafka has not taken yet, published again."""
        while True:
            try:
                await self.queue_the_rest()
            except asyncio.CancelledError:
                raise
            except PublishUnavailable as error:
                _log.warning("sandpit_resets_not_queued", error=str(error))
            except Exception as error:  # PostgreSQL away: the next round tries again
                if classify_failure(error) is not Failure.TRANSIENT:
                    raise
                _log.warning("sandpit_resets_unreadable", error=type(error).__name__)
            await asyncio.sleep(retry_every)

    async def _publish(self, reset: SandpitReset) -> datetime | None:
        """The same message every time (its event id from the reset's): the decider applies a reset once by its id."""
        envelope = wrap(
            reset,
            source=SOURCE,
            correlation_id=str(reset.reset_id),
            event_id=deterministic_id(reset.reset_id, "requested"),
            occurred_at=reset.requested_at,
        )
        await self._publisher.publish(self._topic, reset.ao_id.encode(), [encode(envelope)])
        try:
            return await self.store.mark_queued(reset.reset_id)
        except Exception as error:
            if classify_failure(error) is not Failure.TRANSIENT:
                raise
            # Kafka has it; only our note of it failed: it is sent again later, which changes nothing
            _log.warning("sandpit_reset_queued_not_recorded", reset_id=str(reset.reset_id), error=type(error).__name__)
            return None


RESET_FOLLOWER = "ingest.sandpit-resets"
_RESET_APPLIED = SandpitResetApplied.model_fields["event_type"].default


class ResetFollower:
    """Completes resets as the decider applies them (`SandpitResetApplied` on the outcomes topic).

    The loop is `lrs_platform.consumer`'s, its group's offsets committed after each poll is applied (decision
    0030): a reset it cannot read or complete (a value PostgreSQL refuses, say) is parked on the outcomes
    topic's `.dlq` after its attempts, left `pending` until an operator retries or skips it (`lrs dlq ...
    --service ingest`), and the AOs' resets behind it go on. Kafka or PostgreSQL away is waited out."""

    def __init__(
        self,
        store: SandpitResetStore,
        bootstrap_servers: str,
        topics: TopicNames,
        decisions: DecisionSignal | None,
        office: DeadLetterOffice,
        *,
        consumer_factory: ConsumerFactory = make_consumer,
        policy: RetryPolicy = RetryPolicy(),
    ) -> None:
        self._store = store
        self._decisions = decisions
        group = topics.group(FOLLOWER_GROUP)
        self.guard = PoisonGuard(RESET_FOLLOWER, self.handle, office, policy)
        self._loop = ConsumerLoop(
            self.guard,
            [topics.of(BATCH_OUTCOMES)],
            lambda: consumer_factory(bootstrap_servers, group_id=group),
            max_records=100,
            poll_timeout_ms=500,
        )

    async def run(self) -> None:
        """Follows until cancelled; a failing client is rebuilt from the committed offsets."""
        await self._loop.run()

    async def handle(self, messages: Sequence[Message]) -> None:
        """Completes the resets among a poll's outcomes; idempotent (a reset is completed once)."""
        for message in messages:
            applied = reset_applied_of(message.value)
            if applied is not None:
                await self._complete(applied)

    async def _complete(self, applied: SandpitResetApplied) -> None:
        await self._batch_views_decided(applied)
        await self._store.complete(applied)
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


def reset_applied_of(raw: bytes | None) -> SandpitResetApplied | None:
    """The reset the decider applied, or None for an event of the batch view's (not decoded: the batch view
    reads it, and parks it if it cannot). Raises ValueError for a message that may be a reset but cannot be read
    (one naming no event type, or naming a reset's and failing its contract): the follower parks it."""
    if raw is None:
        raise ValueError("empty message")
    _, event_type = peek_event(raw)
    if event_type is not None and event_type != _RESET_APPLIED:
        return None
    _, payload = decode(raw)
    return payload if isinstance(payload, SandpitResetApplied) else None
