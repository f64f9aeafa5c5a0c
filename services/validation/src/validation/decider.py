"""The decider loop: whole batches in, one Kafka transaction of events + outcomes + offsets out.

For each batch, in partition (so per-AO submission) order:
1. if a decision for the batch is already stored (a previous run died before its Kafka commit),
   reuse it; otherwise open the records' sealed personal details with the batch's learner keys
   (one key store look-up, `validation.personal`; on a thread while PostgreSQL finds the learners
   and states), decide against the reference data and the AO's stored achievement states, and
   store the decision together with the new states (one PostgreSQL transaction);
2. publish the decision's messages and the consumed offsets in one Kafka transaction.
So a batch is decided once, and its events appear once to `read_committed` readers.

Failures go through `lrs_platform.consumer.Attempts`: PostgreSQL away is waited out with bounded
backoff; a batch that cannot be decided (data PostgreSQL refuses, say) is given up after a few
attempts and its end marker parked on `lrs.batch.submitted.v1.dlq` (offsets in the same Kafka
transaction), so the AO's later batches go on. A Kafka error stops the process, as before: the
transactional producer must be rebuilt, which a restart does.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter, Histogram

from lrs_contracts.batch import BatchRecordsSubmitted, BatchSubmitted, SubmittedRecord
from lrs_contracts.dead_letters import DeadLetter, error_text
from lrs_contracts.envelope import deterministic_id, utc_now
from lrs_contracts.environments import LIVE_TOPICS, TopicNames
from lrs_contracts.outcomes import BatchValidationStarted
from lrs_contracts.registry import encode, wrap
from lrs_contracts.sandpit import SandpitReset
from lrs_contracts.topics import BATCH_OUTCOMES, BATCH_SUBMITTED
from lrs_domain.achievements import AchievementState
from lrs_domain.decision import BatchDecision, SubmittedBatch, achievement_states_needed, decide_batch
from lrs_domain.reference import ReferenceSnapshot
from lrs_platform.consumer import Attempts, Poisoned, RetryPolicy, Transient, collector_paused, readiness_report
from lrs_platform.keyring import KeyLookup, KeyringUnavailable
from lrs_platform.logging import get_logger
from lrs_platform.maintenance import MaintenanceGate
from lrs_platform.parking import DeadLetterOffice, Parking
from validation.batch_assembly import AssembledBatch, BatchAssembler, IncompleteBatchError, decode_submission
from validation.decision_store import DecisionStore, OutgoingMessage, StoredDecision
from validation.messages import decision_messages
from validation.partitions import partition_of
from validation.personal import OpenedRecords, open_personal, ulns_to_look_up, with_unverifiable_learners
from validation.reference_store import ReferenceStore
from validation.sandpit import SandpitResets

LONDON = ZoneInfo("Europe/London")
BATCHES_DECIDED = Counter("lrs_validation_batches_total", "Batches decided", ["result"])
RECORDS_DECIDED = Counter("lrs_validation_records_total", "Records decided", ["status"])
DECISION_SECONDS = Histogram("lrs_validation_decision_seconds", "Decide + store + publish one batch")

_log = get_logger("validation.decider")

CONSUMER = "validation.decider"


class _ForgetRevoked(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, assembler: BatchAssembler, early_key_lookups: dict[uuid.UUID, list[asyncio.Task[None]]]) -> None:
        self._assembler = assembler
        self._early_key_lookups = early_key_lookups

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._assembler.forget({partition.partition for partition in revoked})
        self._early_key_lookups.clear()  # only a head start: a batch still here looks its keys up when decided

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None


class KeyFinder(Protocol):
    """Where the learners' keys are found (`lrs_platform.keyring.Keyring`); the decider never creates one."""

    async def find(self, ulns: Iterable[str]) -> KeyLookup: ...

    async def prefetch(self, ulns: Iterable[str]) -> None: ...


class _DecidedElsewhere(Exception):
    def __init__(self, decision: StoredDecision) -> None:
        super().__init__(f"batch {decision.batch_id} was decided by another decider")
        self.decision = decision


class Decider:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        group_id: str,
        reference: ReferenceStore,
        decisions: DecisionStore,
        dead_letters: DeadLetterOffice,
        policy: RetryPolicy = RetryPolicy(),
        *,
        keys: KeyFinder,
        maintenance: MaintenanceGate | None = None,
        topics: TopicNames = LIVE_TOPICS,
        resets: SandpitResets | None = None,
    ) -> None:
        self._topics = topics
        self._resets = resets
        self.name = CONSUMER
        self._maintenance = maintenance
        self._attempts = Attempts(CONSUMER, policy, fatal=(KafkaError,))
        self._dead_letters = dead_letters
        dead_letters.register(CONSUMER)  # a parked batch cannot be decided again from its marker: skip only
        self._consumer = consumer
        self._producer = producer
        self._group_id = group_id
        self._reference = reference
        self._decisions = decisions
        self._keys = keys
        self._assembler = BatchAssembler()
        # each batch being assembled: its chunks' key look-ups, started as the chunks arrive
        self._early_key_lookups: dict[uuid.UUID, list[asyncio.Task[None]]] = {}
        self.batches_decided = 0

    async def readiness(self) -> str:
        return await readiness_report(self._dead_letters, self._attempts, self._maintenance)

    def subscribe(self) -> None:
        self._consumer.subscribe(
            [self._topics.of(BATCH_SUBMITTED)], listener=_ForgetRevoked(self._assembler, self._early_key_lookups)
        )

    async def run(self) -> None:
        while True:
            polled = await self._consumer.getmany(timeout_ms=500, max_records=2_000)
            for partition, records in polled.items():
                if await self._offer_all(partition, records):
                    await self._finish_assembling(partition)

    async def _offer_all(self, partition: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> bool:
        """False when the partition went to another decider while this one waited out maintenance."""
        for record in records:
            if not await self._offer(partition, record):
                return False
        return True

    async def _finish_assembling(self, partition: TopicPartition) -> None:
        """Reads on in `partition` alone, a message at a time, until its batch that arrived in part is
        whole. A fetch stops at 8 MB across partitions, so it often ends inside a batch, and a batch's
        chunks decode to ~4 times their size (~15 MB at 10,000 records): taking every partition's share
        in turn could hold a decoded part batch per partition while one is decided. The other
        partitions' turn comes once the batch is decided, or when nothing more comes (the rest is not
        there yet, or never will be)."""
        consumer = self._consumer
        while self._assembler.assembling(partition.partition) and partition in consumer.assignment():
            polled = await consumer.getmany(partition, timeout_ms=500, max_records=1)
            records = polled.get(partition)
            if not records or not await self._offer_all(partition, records):
                return

    async def _offer(self, partition: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> bool:
        try:
            event_id, payload = decode_submission(record.value)
        except ValueError as error:
            await self._dead_letter(partition, record, error_text(error))
            return True
        if isinstance(payload, SandpitReset):
            await self._reset(partition, record, payload, str(event_id))
            return True
        if isinstance(payload, BatchSubmitted) and not await self._may_start(partition):
            return False
        try:
            batch = self._assembler.offer(partition.partition, record.offset, payload)
        except IncompleteBatchError as error:
            self._early_key_lookups.pop(getattr(payload, "batch_id"), None)  # noqa: B009 - a batch's kinds carry it
            await self._dead_letter(partition, record, error_text(error))
            return True
        if isinstance(payload, BatchSubmitted):
            await self._announce_start(payload, str(event_id))
        elif isinstance(payload, BatchRecordsSubmitted):
            self._look_up_keys_early(payload)
        if batch is not None:
            ready, early = batch, self._early_key_lookups.pop(batch.submitted.batch_id, [])
            outcome = await self._attempts.run(lambda: self._decide_and_publish(partition, ready, str(event_id), early))
            if isinstance(outcome, Poisoned):
                why = f"batch {batch.submitted.batch_id} could not be decided: {outcome.error}"
                await self._dead_letter(partition, record, why, outcome.attempts)
        return True

    def _look_up_keys_early(self, chunk: BatchRecordsSubmitted) -> None:
        """Starts loading the chunk's learner keys while the batch's later chunks are still on their way,
        so that the decision's one `find` answers from memory. Only a head start: whatever fails here
        (the key store away) the decision's `find` meets again, and says."""
        ulns = ulns_to_look_up(chunk.records)
        if ulns:
            lookup = asyncio.create_task(self._keys.prefetch(ulns))
            lookup.add_done_callback(_retrieved)
            self._early_key_lookups.setdefault(chunk.batch_id, []).append(lookup)

    async def _may_start(self, partition: TopicPartition) -> bool:
        """A batch starts only outside maintenance (the one being decided was finished first); False
        when the partition was given to another decider meanwhile."""
        if self._maintenance is None:
            return True
        await self._maintenance.hold(self._consumer)
        return partition in self._consumer.assignment()

    async def _reset(
        self, partition: TopicPartition, record: ConsumerRecord[bytes, bytes], reset: SandpitReset, causation_id: str
    ) -> None:
        """An AO's Sandpit reset, in its queue after the AO's earlier batches (validation.sandpit)."""
        resets = self._resets
        if resets is None:
            await self._dead_letter(partition, record, "a Sandpit reset reached a live decider")
            return
        offsets = {partition: self._assembler.committable(partition.partition, record.offset + 1)}
        outcome = await self._attempts.run(lambda: resets.apply(reset, causation_id, offsets, self._group_id))
        if isinstance(outcome, Poisoned):
            await self._dead_letter(
                partition, record, f"reset {reset.reset_id} could not be applied: {outcome.error}", outcome.attempts
            )

    async def _announce_start(self, submitted: BatchSubmitted, causation_id: str) -> None:
        """Lets the batch view say `validating`. Sent again after a restart; readers ignore repeats."""
        started = BatchValidationStarted(
            batch_id=submitted.batch_id, ao_id=submitted.ao_id, record_count=submitted.record_count
        )
        envelope = wrap(
            started,
            source="validation",
            correlation_id=str(submitted.batch_id),
            causation_id=causation_id,
            event_id=deterministic_id(submitted.batch_id, "validation-started"),
        )
        async with self._producer.transaction():
            await self._producer.send(
                self._topics.of(BATCH_OUTCOMES), key=str(submitted.batch_id).encode(), value=encode(envelope)
            )

    async def _decide_and_publish(
        self,
        partition: TopicPartition,
        batch: AssembledBatch,
        causation_id: str,
        early_key_lookups: Sequence[asyncio.Task[None]],
    ) -> None:
        started, cpu_started = time.perf_counter(), time.process_time()
        submitted = batch.submitted
        offsets = {partition: self._assembler.committable(partition.partition, batch.last_offset + 1)}
        with collector_paused():
            decision = await self._decisions.stored(submitted.batch_id)
            if decision is None:
                decision = await self._decide_and_publish_new(batch, causation_id, offsets, early_key_lookups)
            if not decision.published:
                await self._publish(decision.messages, offsets)
                await self._decisions.mark_published(submitted.batch_id)
        elapsed = time.perf_counter() - started
        DECISION_SECONDS.observe(elapsed)
        BATCHES_DECIDED.labels("failed" if decision.failed else "completed").inc()
        self.batches_decided += 1
        _log.info(
            "batch_decided",
            batch_id=str(submitted.batch_id),
            ao_id=submitted.ao_id,
            records=len(batch.records),
            failed=decision.failed,
            messages=len(decision.messages),
            ms=round(elapsed * 1000, 1),
            cpu_ms=round((time.process_time() - cpu_started) * 1000, 1),  # the whole process's, all threads
        )

    async def _decide_and_publish_new(
        self,
        batch: AssembledBatch,
        causation_id: str,
        offsets: dict[TopicPartition, int],
        early_key_lookups: Sequence[asyncio.Task[None]],
    ) -> StoredDecision:
        """Decides, then stores the decision while its messages go out in a Kafka transaction that
        commits only once the decision is stored: readers never see messages of an unstored decision,
        and storing (~0.5 s for a large batch) overlaps sending. If another decider stored its decision
        first, ours is aborted and theirs returned, unpublished."""
        submitted = batch.submitted
        decision, messages = await self._decide(batch, causation_id, early_key_lookups)
        failed, new_states = decision.failure is not None, decision.new_states
        del decision  # its outcomes and events are in the messages now: free them before sending
        storing = asyncio.create_task(
            self._decisions.record(submitted.batch_id, submitted.ao_id, failed, messages, new_states)
        )
        try:
            async with self._producer.transaction():
                await self._send(messages)
                stored = await storing
                if stored.messages != tuple(messages):
                    raise _DecidedElsewhere(stored)  # aborts the transaction
                await self._producer.send_offsets_to_transaction(offsets, self._group_id)
        except _DecidedElsewhere as elsewhere:
            return elsewhere.decision
        finally:
            await asyncio.wait([storing])  # never leave the store running behind a failed send
            if not storing.cancelled():
                storing.exception()  # retrieved: a failed send is what the caller hears about
        await self._decisions.mark_published(submitted.batch_id)
        return StoredDecision(stored.batch_id, stored.failed, stored.messages, True)

    async def _decide(
        self, batch: AssembledBatch, causation_id: str, early_key_lookups: Sequence[asyncio.Task[None]]
    ) -> tuple[BatchDecision, list[OutgoingMessage]]:
        submitted = batch.submitted
        # The records are opened on a thread while PostgreSQL finds the learners and the states.
        opening = asyncio.create_task(self._open(batch.records, early_key_lookups))
        try:
            catalogue, organisations = await self._reference.current()
            learners = await self._reference.learners_for(record.uln for record in batch.records if record.uln)
            reference = ReferenceSnapshot(catalogue, organisations, learners)
            needed = achievement_states_needed(batch.records, reference)
            existing = await self._decisions.existing_states(submitted.ao_id, needed)
            opened = await opening
        finally:
            opening.cancel()  # when a look-up failed first; nothing once it is done
            await asyncio.wait([opening])
            if not opening.cancelled():
                opening.exception()  # retrieved: the look-up's failure is what the caller hears about
        # Seconds of pure CPU for a large batch: on a thread, so the loop keeps the group's heartbeat going.
        decision, messages = await asyncio.to_thread(
            decide_and_write, batch, opened, reference, existing, causation_id, self._topics
        )
        RECORDS_DECIDED.labels("accepted").inc(decision.counts.accepted)
        RECORDS_DECIDED.labels("rejected").inc(decision.counts.rejected)
        RECORDS_DECIDED.labels("no_op").inc(decision.counts.no_ops)
        return decision, messages

    async def _open(
        self, records: Sequence[SubmittedRecord], early_key_lookups: Sequence[asyncio.Task[None]]
    ) -> OpenedRecords:
        if early_key_lookups:
            await asyncio.wait(early_key_lookups)
        try:
            keys = await self._keys.find(ulns_to_look_up(records))
        except KeyringUnavailable as error:  # waited out like PostgreSQL away, never a reason to park the batch
            raise Transient(str(error)) from error
        return await asyncio.to_thread(open_personal, records, keys)

    async def _publish(self, messages: Sequence[OutgoingMessage], offsets: dict[TopicPartition, int]) -> None:
        async with self._producer.transaction():
            await self._send(messages)
            await self._producer.send_offsets_to_transaction(offsets, self._group_id)

    async def _send(self, messages: Sequence[OutgoingMessage]) -> None:
        """Fills one record batch per partition at a time: a `send` per message would cost a coroutine,
        a metadata check and a delivery future each, ~10,000 times per large batch. Each partition's
        messages keep their order; the transaction's commit waits for every batch's delivery."""
        producer = self._producer
        partitions: dict[str, list[int]] = {}
        filling: dict[tuple[str, int], BatchBuilder] = {}
        for message in messages:
            topic, key, value = message.topic, message.key.encode(), message.value
            known = partitions.get(topic)
            if known is None:
                known = partitions[topic] = sorted(await producer.partitions_for(topic))
            partition = partition_of(key, known)
            builder = filling.get((topic, partition))
            if builder is None:
                builder = filling[(topic, partition)] = producer.create_batch()
            if builder.append(timestamp=None, key=key, value=value) is None:  # full: send it, start the next
                await producer.send_batch(builder, topic, partition=partition)
                builder = filling[(topic, partition)] = producer.create_batch()
                builder.append(timestamp=None, key=key, value=value)
        for (topic, partition), builder in filling.items():
            await producer.send_batch(builder, topic, partition=partition)

    async def _dead_letter(
        self, partition: TopicPartition, record: ConsumerRecord[bytes, bytes], error: str, attempts: int = 1
    ) -> None:
        """Parks the message for operators, then sends it to the DLQ with the offsets past it, in one transaction."""
        _log.error("batch_message_dead_lettered", partition=partition.partition, offset=record.offset, error=error)
        letter = DeadLetter.of(
            error=error,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            consumer=CONSUMER,
            attempts=attempts,
            value=record.value,
        )
        parking = Parking(
            CONSUMER,
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            record.timestamp or 0,
            "error",
            letter,
        )
        await self._attempts.until_done(lambda: self._dead_letters.park([parking], publish=False))
        commit_at = self._assembler.committable(partition.partition, record.offset + 1)
        async with self._producer.transaction():
            await self._producer.send(
                self._topics.dead_letters(BATCH_SUBMITTED.name),
                key=record.key,
                value=record.value,
                headers=letter.headers(),
            )
            await self._producer.send_offsets_to_transaction({partition: commit_at}, self._group_id)


def decide_and_write(
    batch: AssembledBatch,
    opened: OpenedRecords,
    reference: ReferenceSnapshot,
    existing: dict[tuple[str, str], list[AchievementState]],
    causation_id: str,
    topics: TopicNames = LIVE_TOPICS,
) -> tuple[BatchDecision, list[OutgoingMessage]]:
    """The decision and its messages: pure work, no I/O, so it may run on any thread. `opened` are the
    batch's records with their sealed details opened (`open_personal`), as the rules read them."""
    submitted = batch.submitted
    decided_at = utc_now()
    decision = decide_batch(
        SubmittedBatch(submitted.batch_id, submitted.ao_id, submitted.header, opened.records, submitted.received_at),
        reference,
        existing,
        today=datetime.now(LONDON).date(),
    )
    decision = with_unverifiable_learners(decision, opened.unverifiable)
    return decision, decision_messages(submitted, decision, causation_id, decided_at, topics)


def _retrieved(lookup: asyncio.Task[None]) -> None:
    """An early key look-up's failure is the decision's to meet (and report), not the event loop's."""
    if not lookup.cancelled():
        lookup.exception()


async def run_forever(decider: Decider) -> None:
    """Runs the decider; a crash is logged and the process exits so the supervisor restarts it."""
    try:
        await decider.run()
    except asyncio.CancelledError:
        raise
    except Exception:
        _log.exception("decider_crashed")
        raise
