"""The decider loop: whole batches in, one Kafka transaction of events + outcomes + offsets out.

For each batch, in partition (so per-AO submission) order:
1. as each chunk of records arrives, its records are judged in the background (`_ChunkJudging`):
   their learners and the AO's achievement states read, their sealed personal details opened with
   their learner keys, or the batch's own key for records that name no learner (`validation.personal`),
   the rules applied on a thread (decision 0085);
2. at the batch's end marker, if a decision for the batch is already stored (a previous run died
   before its Kafka commit), reuse it; otherwise finish the decision (what needs the whole batch:
   RV020, RS005, events) — or, when what the chunks read may have changed since (`_still_current`),
   judge the whole batch again as it stands now — and store it together with the new states (one
   PostgreSQL transaction);
3. publish the decision's messages and the consumed offsets in one Kafka transaction; once the
   decision is stored, and before that transaction commits, the batch's own key (if it has one) is
   destroyed: nothing needs it again, a redelivered batch's stored decision being published as it is
   (decision 0106). A batch given up and parked loses its key too, once its abandonment is out.
So a batch is decided once, and its events appear once to `read_committed` readers.

Failures go through `lrs_platform.consumer.Attempts`: PostgreSQL away is waited out with bounded
backoff; a batch that cannot be decided (data PostgreSQL refuses, say) is given up after a few
attempts and its end marker parked on `lrs.batch.submitted.v1.dlq` (offsets in the same Kafka
transaction), so the AO's later batches go on. A broker away or slow while a batch is published (a
timeout, a lost connection) is waited out too, once the producer has aborted the batch's transaction and
is ready for the next (`_waiting_out_the_broker`): the retry publishes the stored decision, the same
messages with the same event ids. Any other Kafka error stops the process, as before: a fenced producer
(another decider took its transactional id) or one left unusable must be rebuilt, which a restart does.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.producer.transaction_manager import TransactionState
from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter, Histogram

from lrs_contracts.batch import BatchRecordsSubmitted, BatchSubmitted, SubmittedRecord
from lrs_contracts.dead_letters import DeadLetter, Headers, error_text
from lrs_contracts.envelope import Envelope, deterministic_id, utc_now
from lrs_contracts.environments import LIVE_TOPICS, TopicNames
from lrs_contracts.outcomes import BatchAbandoned, BatchCounts, BatchValidationStarted, RecordStatus
from lrs_contracts.registry import encode, event_type_of, wrap
from lrs_contracts.sandpit import SandpitReset
from lrs_contracts.topics import BATCH_OUTCOMES, BATCH_SUBMITTED
from lrs_domain.achievements import AchievementState
from lrs_domain.decision import BatchDecision, BatchJudging, JudgedChunk, SubmittedBatch, achievement_states_needed
from lrs_domain.reference import AwardingOrganisation, Catalogue, ReferenceSnapshot
from lrs_platform.clock import ENGLAND
from lrs_platform.consumer import (
    FAILURES,
    MESSAGES,
    Attempts,
    Failure,
    LagCount,
    Poisoned,
    RetryPolicy,
    Transient,
    collector_paused,
    failure_text,
    readiness_report,
)
from lrs_platform.keyring import UNKEYED_RECORDS, Erased, KeyLookup, KeyringUnavailable, batch_key_name
from lrs_platform.logging import get_logger
from lrs_platform.maintenance import MaintenanceGate
from lrs_platform.parking import DeadLetterOffice, Parking, send_dead_letter
from validation.batch_assembly import (
    BATCH_KINDS,
    AssembledBatch,
    BatchAssembler,
    IncompleteBatchError,
    decode_submission,
)
from validation.decision_store import DecisionStore, OutgoingMessage, StoredDecision
from validation.event_json import EventJson
from validation.learner_registry import REGISTRY_CHANGES_KEPT_SECONDS, LearnerRegistry
from validation.messages import decision_messages
from validation.partitions import partition_of
from validation.personal import (
    erased_ulns,
    learners_ulns,
    open_personal,
    sealed_without_learner_key,
    ulns_to_look_up,
    ulns_told_erased,
    with_unverifiable_learners,
)
from validation.reference_store import ReferenceStore
from validation.sandpit import SandpitResets

BATCHES_DECIDED = Counter("lrs_validation_batches_total", "Batches decided", ["result"])
BATCH_RESULTS = ("completed", "failed")
"""Every `result` of BATCHES_DECIDED: a batch decided is completed or failed whole (RS005)."""
RECORDS_DECIDED = Counter(
    "lrs_validation_records_total", "Records decided, by their batch's result", ["status", "result"]
)
"""A failed batch's records are counted under `result="failed"`, its passing ones `accepted` or `no_op` as judged
though none was added: the MI's accepted and unchanged records are those of `result="completed"`."""
# Both counted once per decision, by the decider that stored it: a batch whose decision was stored before (read
# again after a restart, a rebalance or a group's reset, or decided by another decider) is not counted again.
# Every series exported from the start at 0, so that `increase()` sees the first failed batch after a start (a
# series born at 1 increases by nothing).
for _result in BATCH_RESULTS:
    BATCHES_DECIDED.labels(_result)
    for _status in RecordStatus:
        RECORDS_DECIDED.labels(_status.value, _result)
DECISION_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
"""A 10,000-record batch is decided in about a second; the buckets reach five minutes, well past the "decisions slow"
alert's 10 s (docs/operations.md, Alerts). With prometheus_client's default buckets, whose top is 10 s, the alert's
`histogram_quantile(...) > 10` could never be true: a quantile in the +Inf bucket is answered as 10
(tests/test_alert_thresholds.py)."""
DECISION_SECONDS = Histogram(
    "lrs_validation_decision_seconds", "Decide + store + publish one batch", buckets=DECISION_SECONDS_BUCKETS
)

_log = get_logger("validation.decider")

CONSUMER = "validation.decider"
# A poll hands out at most about one large batch's messages (its start, ten chunks of 1,000 records, its
# marker). What the consumer fetched beyond them stays in its buffers as the broker sent it, compressed:
# a poll of 2,000 handed out every partition's fetched chunks at once, decompressed, and they were held
# while one batch after another was decided (~50-60 MB of validation's peak with the batches spread over
# five partitions, decision 0115).
POLL_MESSAGES = 12
T = TypeVar("T")


class _ForgetRevoked(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        assembler: BatchAssembler,
        judging: dict[uuid.UUID, _ChunkJudging],
        revocations: collections.Counter[int],
    ) -> None:
        self._assembler = assembler
        self._judging = judging
        self._revocations = revocations

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        partitions = {partition.partition for partition in revoked}
        self._revocations.update(partitions)  # the rest of a poll of theirs is not offered
        self._assembler.forget(partitions)
        for batch_id in [batch_id for batch_id, each in self._judging.items() if each.partition in partitions]:
            self._judging.pop(batch_id).cancel()  # its batch is read again from its start

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None


class _Held(NamedTuple):
    """A partition's messages polled and not offered yet, and its revocations when they were polled: none of
    them is offered once the partition was revoked since (`Decider._held_records`)."""

    revocations: int
    records: collections.deque[ConsumerRecord[bytes, bytes]]


class KeyFinder(Protocol):
    """Where the learners' keys are found (`lrs_platform.keyring.Keyring`); the decider never creates
    one, and destroys only a batch's own key."""

    async def find(self, ulns: Iterable[str]) -> KeyLookup: ...

    async def destroy(self, name: str) -> bool: ...


class _JudgedPart(NamedTuple):
    """Some records of a batch judged, the learners among them that cannot be verified (by index
    there), and the JSON of their events (by `id` of the event) should the batch accept them."""

    judged: JudgedChunk
    unverifiable: dict[int, str]
    size: int
    events_json: dict[int, bytes]
    details_judged: frozenset[int] = frozenset()  # `OpenedRecords.details_judged`


class _ChunkJudging:
    """A batch whose chunks are judged as they arrive, against what was read for them: valid at the
    end marker only if `_still_current`. One worker at a time judges every chunk that is waiting, as
    one part: chunks that arrive together (a batch comes in one Kafka transaction, so usually all of
    it) are read and judged together, and only chunks that arrive apart are judged apart."""

    def __init__(self, submitted: BatchSubmitted, partition: int, ao_decisions: int) -> None:
        self.submitted = submitted
        self.partition = partition
        self.ao_decisions = ao_decisions  # the AO's batches decided here before this one's first read
        self.started = time.monotonic()
        # "today" for RV008 is the day the batch was received, in England: what the AO's check at upload said,
        # whenever it is decided (a maintenance window may hold it past midnight), and the same decision again
        self.judging = BatchJudging(
            submitted.batch_id,
            submitted.ao_id,
            submitted.header.effective_job_type,
            submitted.received_at.astimezone(ENGLAND).date(),
        )
        self.setup: asyncio.Task[_Setup] | None = None
        self.worker: asyncio.Task[None] | None = None
        self.waiting: list[tuple[int, Sequence[SubmittedRecord]]] = []  # arrived, not yet taken by the worker
        self.order: list[int] = []  # the chunk indexes taken, in the order of `parts`' records
        self.parts: list[_JudgedPart] = []
        self.repeated = False  # a chunk came twice: the batch is judged whole at its end

    def arrived(self, chunk_index: int, records: Sequence[SubmittedRecord]) -> None:
        if chunk_index in self.order or any(index == chunk_index for index, _ in self.waiting):
            self.repeated = True
        self.waiting.append((chunk_index, records))

    def take_waiting(self) -> list[SubmittedRecord]:
        taken, self.waiting = self.waiting, []
        self.order += [index for index, _ in taken]
        return [record for _, records in taken for record in records]

    def tasks(self) -> list[asyncio.Task[Any]]:
        return [task for task in (self.setup, self.worker) if task is not None]

    def cancel(self) -> None:
        for task in self.tasks():
            task.cancel()


class _Setup(NamedTuple):
    """Read once for all of a batch's chunks: the catalogue, and the registry's snapshot before any chunk's read."""

    catalogue: Catalogue
    organisations: dict[str, AwardingOrganisation]
    registry_snapshot: str


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
        registry: LearnerRegistry,
        keys: KeyFinder,
        maintenance: MaintenanceGate | None = None,
        topics: TopicNames = LIVE_TOPICS,
        resets: SandpitResets | None = None,
    ) -> None:
        self._topics = topics
        self._resets = resets
        self.name = CONSUMER
        self._maintenance = maintenance
        # its attempts also set `lrs_consumer_busy_since_seconds`: a decision hanging on a lock shows there, nowhere else
        self._attempts = Attempts(CONSUMER, policy, fatal=(KafkaError,))
        self._lag = LagCount(CONSUMER)
        # per partition, the offset of the message being handled, or of the first of a poll's not offered yet: with
        # the batches read in part (the assembler's), what `lrs_consumer_lag_messages` counts as in hand
        self._in_hand: dict[TopicPartition, int] = {}
        # per partition, the messages of its last poll its turn left to the next (`_take_turn`)
        self._held: dict[TopicPartition, _Held] = {}
        self._turn = 0
        self._turns: dict[TopicPartition, int] = {}  # per partition, the number of its last turn
        self._finished = 0  # batches decided or given up, resets applied, messages parked: each ends a turn
        self._parked_it = False  # whether the message being handled was parked (lrs_consumer_messages_total)
        self._dead_letters = dead_letters
        dead_letters.register(CONSUMER)  # a parked batch cannot be decided again from its marker: skip only
        self._consumer = consumer
        self._producer = producer
        self._group_id = group_id
        self._reference = reference
        self._registry = registry
        self._decisions = decisions
        self._keys = keys
        self._assembler = BatchAssembler()
        self._judging: dict[uuid.UUID, _ChunkJudging] = {}  # each batch being assembled, judged as it comes
        self._revocations: collections.Counter[int] = collections.Counter()  # per partition, how often it was revoked
        self._batch_keyed: set[uuid.UUID] = set()  # batches whose own key was found, to destroy when decided
        # per AO, its batches decided (or reset) here: a chunk's state read before the last one is stale
        self._ao_decisions: dict[str, int] = {}
        self.batches_decided = 0  # batches whose decision is out: decided here, or stored before and read again
        # batches whose decision this process stored and has not yet logged (its publishing may be retried)
        self._decided_here: set[uuid.UUID] = set()
        # The pure work (judging, finishing) on one thread of its own: its buffers come and go in one
        # malloc arena, reused batch after batch, where each thread of asyncio's pool kept an arena
        # holding the free memory of its own largest batch (decision 0091). The GIL runs one at a time anyway.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="validation-judge")

    async def readiness(self) -> str:
        return await readiness_report(self._dead_letters, self._attempts, self._maintenance)

    def close(self) -> None:
        """Lets the judging thread go once its work in hand is done; nothing queued behind it starts."""
        self._worker.shutdown(wait=False, cancel_futures=True)

    def subscribe(self) -> None:
        self._consumer.subscribe(
            [self._topics.of(BATCH_SUBMITTED)],
            listener=_ForgetRevoked(self._assembler, self._judging, self._revocations),
        )

    async def run(self) -> None:
        try:
            async with self._lag.counting(self._consumer, self._unfinished):
                while True:
                    partition = await self._next_turn()
                    if partition is not None:
                        await self._take_turn(partition)
        finally:
            self.close()

    async def _next_turn(self) -> TopicPartition | None:
        """The partition whose turn it is: of the assigned partitions with messages held or fetched, the one whose
        last turn was longest ago. aiokafka hands out its buffered records from the first partition that has any,
        and keeps to it until that partition's fetch is used up (`Fetcher.fetched_records`): a poll of every
        partition returned one AO's hundreds of small batches, fetched in one go, while a batch on another
        partition waited behind all of them (decision 0171). A poll naming one partition returns only its
        records, at once when there are none (`timeout_ms=0`); only when no partition has any does the poll
        of them all wait."""
        consumer = self._consumer
        for partition in [partition for partition in self._held if self._held_records(partition) is None]:
            del self._held[partition]  # revoked since: whoever has the partition reads them again
            self._in_hand.pop(partition, None)
        for partition in sorted(consumer.assignment(), key=self._last_turn):
            if self._held_records(partition):
                return partition
            polled = await consumer.getmany(partition, timeout_ms=0, max_records=self._poll_size())
            if polled.get(partition):
                self._hold(polled)
                return partition
        polled = await consumer.getmany(timeout_ms=500, max_records=self._poll_size())
        self._hold(polled)
        waiting = [partition for partition, records in polled.items() if records]
        return min(waiting, key=self._last_turn) if waiting else None

    def _last_turn(self, partition: TopicPartition) -> tuple[int, int]:
        return self._turns.get(partition, -1), partition.partition

    def _poll_size(self) -> int:
        """At most about one large batch's messages in hand (POLL_MESSAGES) with what other partitions' turns left
        held: always one, so that a partition's turn can start."""
        return max(1, POLL_MESSAGES - sum(len(held.records) for held in self._held.values()))

    def _hold(self, polled: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        for partition, records in polled.items():
            if records:
                self._held[partition] = _Held(self._revocations[partition.partition], collections.deque(records))
                self._in_hand[partition] = records[0].offset

    def _held_records(self, partition: TopicPartition) -> collections.deque[ConsumerRecord[bytes, bytes]] | None:
        """The partition's messages polled and not offered yet; None once it was revoked since they were polled."""
        held = self._held.get(partition)
        if held is None or held.revocations != self._revocations[partition.partition]:
            return None
        return held.records

    async def _take_turn(self, partition: TopicPartition) -> None:
        """Offers the partition's messages held, in order, until one of its batches is decided (or given up, or a
        reset applied, or a message parked) with none of its batches left arrived in part: the rest waits, held,
        for the partition's next turn, after the other partitions' turns. A batch the messages held leave in part
        is read whole first (`_finish_assembling`). The offsets each decision commits are its own (the assembler's),
        never past a message held: a decider stopped now reads them again."""
        self._turn += 1
        self._turns[partition] = self._turn
        held = self._held[partition]
        finished = self._finished
        try:
            while held.records:
                if self._held_records(partition) is not held.records:
                    return  # revoked while the last was offered: the rest of them is not offered
                if not await self._offer(partition, held.records.popleft()):
                    held.records.clear()
                    return
                if self._finished != finished and not self._assembler.assembling(partition.partition):
                    return
            if self._held_records(partition) is held.records:
                await self._finish_assembling(partition)
        finally:
            if held.records and self._held_records(partition) is held.records:
                self._in_hand[partition] = held.records[0].offset
            else:
                if self._held.get(partition) is held:
                    del self._held[partition]
                self._in_hand.pop(partition, None)

    def _unfinished(self) -> dict[TopicPartition, int]:
        """Each assigned partition's first offset not handled, where it is not the consumer's position: the message
        being handled (a decision retried while PostgreSQL is away, a batch held for maintenance), a poll's messages
        not offered yet, or the start of a batch read in part or being decided (its messages are handled with it)."""
        unfinished: dict[TopicPartition, int] = {}
        for partition in self._consumer.assignment():
            first = self._assembler.committable(partition.partition, self._in_hand.get(partition, sys.maxsize))
            if first != sys.maxsize:
                unfinished[partition] = first
        return unfinished

    async def _offer_all(self, partition: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> bool:
        """False when the partition was revoked while its records were offered (a rebalance during a
        decision, or while maintenance was waited out): the rest of them is not offered. Its batches read
        in part were forgotten with it, so a batch's end would come without its start; whoever has the
        partition now reads them again from the committed offset, which never passes a batch's start."""
        revocations = self._revocations[partition.partition]
        for record in records:
            if self._revocations[partition.partition] != revocations or not await self._offer(partition, record):
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
        """Handles one message of the submitted topic; False when it must wait (a batch may not start yet)."""
        self._parked_it = False
        # before the offer: once its end marker is offered, a batch's start is no longer the assembler's to say
        self._in_hand[partition] = self._assembler.committable(partition.partition, record.offset)
        handled = await self._handle(partition, record)
        if handled and not self._parked_it:
            MESSAGES.labels(CONSUMER, "applied").inc()
        return handled

    async def _handle(self, partition: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> bool:
        try:
            # A chunk decodes to ~2,000 objects the collector tracks (a model and its dict a record), kept
            # until their batch is decided: the collections their allocations started only scanned them.
            # The pause's end freezes them out of later scans, as judging's does (decision 0109).
            with collector_paused():
                event_id, payload = decode_submission(record.value)
        except ValueError as error:
            await self._dead_letter(partition, record, failure_text(error))
            return True
        if isinstance(payload, SandpitReset):
            await self._reset(partition, record, payload, str(event_id))
            return True
        if not isinstance(payload, BATCH_KINDS):  # readable, but no batch travels in it (decision 0103)
            why = f"{event_type_of(type(payload))} is not a batch's event: the submitted topic carries only batches"
            await self._dead_letter(partition, record, why)
            return True
        if isinstance(payload, BatchSubmitted) and not await self._may_start(partition):
            return False
        try:
            batch = self._assembler.offer(partition.partition, record.offset, payload)
        except IncompleteBatchError as error:
            batch_id: uuid.UUID = getattr(payload, "batch_id")  # noqa: B009 - a batch's kinds carry it
            if error.submitted is None and await self._attempts.until_done(
                functools.partial(self._decisions.is_decided, batch_id)
            ):
                # a part of a batch decided before (sent again, or read again after its offsets were passed by
                # a Sandpit reset's or an operator's seek): nothing to decide, and nothing to give up on
                _log.info("decided_batch_part_ignored", batch_id=str(batch_id), offset=record.offset)
                return True
            self._stop_judging(batch_id)
            if error.submitted is None:
                # Its start is gone (retention deleted the log segment holding it, a transaction having spanned a
                # segment roll; or an operator's seek passed it): parked, but not given up on. The AO's copy sent
                # again while the batch is `accepted` may follow in the log, and is decided once; abandoned now,
                # the batch would be both abandoned and decided (decision 0103: an abandoned batch never is).
                _log.warning(
                    "batch_start_expired", batch_id=str(batch_id), partition=partition.partition, offset=record.offset
                )
                await self._dead_letter(partition, record, error_text(error), abandon=False)
                return True
            await self._dead_letter(partition, record, error_text(error), submitted=error.submitted)
            return True
        if isinstance(payload, BatchSubmitted):
            self._start_judging(payload, partition.partition)
            await self._attempts.until_done(
                lambda: self._waiting_out_the_broker(lambda: self._announce_start(payload, str(event_id)))
            )
        elif isinstance(payload, BatchRecordsSubmitted):
            self._judge_as_it_arrives(payload)
        if batch is not None:
            ready, judging = batch, self._judging.pop(batch.submitted.batch_id, None)
            # The offsets committable as the marker is read, kept for every attempt and the dead letter: a
            # rebalance while an attempt waits makes the assembler forget the partition's batches read in
            # part, and offsets taken then would pass the first of them.
            offsets = {partition: self._assembler.committable(partition.partition, batch.last_offset + 1)}
            try:
                outcome = await self._attempts.run(
                    lambda: self._waiting_out_the_broker(
                        lambda: self._decide_and_publish(partition, ready, str(event_id), judging, offsets)
                    )
                )
            finally:
                if judging is not None:
                    judging.cancel()  # all done by now, unless the decision failed first
                self._count_decision(batch.submitted.ao_id)
                self._decided_here.discard(batch.submitted.batch_id)
                self._finished += 1
            if isinstance(outcome, Poisoned):
                why = f"batch {batch.submitted.batch_id} could not be decided: {outcome.error}"
                await self._dead_letter(
                    partition, record, why, outcome.attempts, batch.submitted, commit_at=offsets[partition]
                )
        return True

    def _start_judging(self, submitted: BatchSubmitted, partition: int) -> None:
        """Reads what every chunk of the batch is judged against, before any chunk's own reads."""
        self._stop_judging(submitted.batch_id)  # a batch sent again starts again
        judging = _ChunkJudging(submitted, partition, self._ao_decisions.get(submitted.ao_id, 0))
        judging.setup = asyncio.create_task(self._set_up())
        judging.setup.add_done_callback(_retrieved)
        self._judging[submitted.batch_id] = judging

    def _stop_judging(self, batch_id: uuid.UUID) -> None:
        self._batch_keyed.discard(batch_id)
        judging = self._judging.pop(batch_id, None)
        if judging is not None:
            judging.cancel()

    def _count_decision(self, ao_id: str) -> None:
        self._ao_decisions[ao_id] = self._ao_decisions.get(ao_id, 0) + 1

    def _judge_as_it_arrives(self, chunk: BatchRecordsSubmitted) -> None:
        """Queues the chunk for the batch's worker, started unless it is at work."""
        judging = self._judging.get(chunk.batch_id)
        if judging is None:  # its start was not seen here: the batch is judged whole at its end
            return
        judging.arrived(chunk.chunk_index, chunk.records)
        if judging.worker is None or judging.worker.done():
            judging.worker = asyncio.create_task(self._judge_waiting(judging))
            judging.worker.add_done_callback(_retrieved)

    async def _judge_waiting(self, judging: _ChunkJudging) -> None:
        """Judges the chunks waiting, all as one part, until none waits."""
        while judging.waiting:
            records = judging.take_waiting()
            judging.parts.append(await self._judge_chunk(judging, records))

    async def _may_start(self, partition: TopicPartition) -> bool:
        """A batch starts only outside maintenance (the one being decided was finished first); False
        when the partition was taken from this decider meanwhile, even if it was given back: its consumer reads
        it again from the offsets committed, and a start offered now would wait for an end another decider may
        have read already, pinning the partition's commits there."""
        if self._maintenance is None:
            return True
        revocations = self._revocations[partition.partition]
        await self._maintenance.hold(self._consumer)
        return self._revocations[partition.partition] == revocations and partition in self._consumer.assignment()

    async def _reset(
        self, partition: TopicPartition, record: ConsumerRecord[bytes, bytes], reset: SandpitReset, causation_id: str
    ) -> None:
        """An AO's Sandpit reset, in its queue after the AO's earlier batches (validation.sandpit)."""
        resets = self._resets
        if resets is None:
            await self._dead_letter(partition, record, "a Sandpit reset reached a live decider")
            return
        offsets = {partition: self._assembler.committable(partition.partition, record.offset + 1)}
        try:
            outcome = await self._attempts.run(
                lambda: self._waiting_out_the_broker(lambda: resets.apply(reset, causation_id, offsets, self._group_id))
            )
        finally:
            self._count_decision(reset.ao_id)  # the AO's states are gone: its part-judged batches read them again
            self._finished += 1
        if isinstance(outcome, Poisoned):
            why = f"reset {reset.reset_id} could not be applied: {outcome.error}"
            await self._dead_letter(partition, record, why, outcome.attempts, commit_at=offsets[partition])

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

    async def _waiting_out_the_broker(self, effect: Callable[[], Awaitable[T]]) -> T:
        """Runs `effect`, whose Kafka transaction fails as `Transient` (retried with the backoff, never given up)
        when the broker was away or slow and the producer survived it: the transaction aborted, the producer
        ready for the next one. The retry decides nothing again: the decision is stored (or not at all), and
        publishing it again sends the same messages with the same event ids. Any other Kafka error is left
        to stop the process (`Attempts`' fatal): a fenced producer (another decider has its transactional id:
        this one must stop), or one whose transaction could not be aborted, which only a new producer can
        use again."""
        try:
            return await effect()
        except KafkaError as error:
            if not (isinstance(error, KafkaTimeoutError) or error.retriable) or not _ready(self._producer):
                raise
            raise Transient(f"Kafka away while publishing, the transaction aborted: {failure_text(error)}") from error

    async def _decide_and_publish(
        self,
        partition: TopicPartition,
        batch: AssembledBatch,
        causation_id: str,
        judging: _ChunkJudging | None,
        offsets: dict[TopicPartition, int],
    ) -> None:
        started, cpu_started = time.perf_counter(), time.process_time()
        submitted = batch.submitted
        with collector_paused():
            decision = await self._decisions.stored(submitted.batch_id)
            if decision is None:
                decision = await self._decide_and_publish_new(batch, causation_id, offsets, judging)
            else:  # decided before: whatever this run found, its key may still stand (a tombstone if it had none)
                await self._destroy_batch_key(submitted.batch_id)
            published_again = not decision.published
            if published_again:
                await self._publish(decision.messages, offsets)
                await self._decisions.mark_published(submitted.batch_id)
        elapsed = time.perf_counter() - started
        self.batches_decided += 1
        if submitted.batch_id not in self._decided_here:
            # Decided before (a redelivery after a restart, a rebalance or a group's reset) or by another decider:
            # counted and logged as decided by the decider that stored it. Its messages went out again if no
            # decider had marked them published.
            _log.info(
                "batch_decided_already",
                batch_id=str(submitted.batch_id),
                ao_id=submitted.ao_id,
                records=len(batch.records),
                failed=decision.failed,
                messages=len(decision.messages),
                published_again=published_again,
                ms=round(elapsed * 1000, 1),
            )
            return
        self._decided_here.discard(submitted.batch_id)
        DECISION_SECONDS.observe(elapsed)
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
        judging: _ChunkJudging | None,
    ) -> StoredDecision:
        """Decides, then stores the decision while its messages go out in a Kafka transaction that
        commits only once the decision is stored: readers never see messages of an unstored decision,
        and storing (~0.5 s for a large batch) overlaps sending. If another decider stored its decision
        first, ours is aborted and theirs returned, unpublished."""
        submitted = batch.submitted
        decision, messages = await self._decide(batch, causation_id, judging)
        failed, new_states, created = decision.failure is not None, decision.new_states, decision.new_achievement_ids
        counts = decision.counts
        del decision  # its outcomes and events are in the messages now: free them before sending
        storing = asyncio.create_task(
            self._decisions.record(submitted.batch_id, submitted.ao_id, failed, messages, new_states, created)
        )
        try:
            async with self._producer.transaction():
                await self._send(messages)
                stored = await storing
                # Another decider's decision, found stored: aborts ours, even when it is ours to the byte (its ids
                # are derived from the batch): a decider frozen past its partition's rebalance, woken when the
                # new owner had decided and published the batch, sent every message of it again (a zombie).
                if not stored.ours:
                    raise _DecidedElsewhere(stored)
                if submitted.batch_id in self._batch_keyed:
                    await self._destroy_batch_key(submitted.batch_id)
                await self._producer.send_offsets_to_transaction(offsets, self._group_id)
        except _DecidedElsewhere as elsewhere:
            return elsewhere.decision
        finally:
            await asyncio.wait([storing])  # never leave the store running behind a failed send
            if not storing.cancelled() and storing.exception() is None and storing.result().ours:
                # Decided here: counted once, as it is stored, even if its sending failed (a retry publishes it).
                self._decided_here.add(submitted.batch_id)
                _count_decided(failed, counts)
        await self._decisions.mark_published(submitted.batch_id)
        return StoredDecision(stored.batch_id, stored.failed, stored.messages, True)

    async def _decide(
        self, batch: AssembledBatch, causation_id: str, judging: _ChunkJudging | None
    ) -> tuple[BatchDecision, list[OutgoingMessage]]:
        parts = await self._judged_as_they_came(batch, judging)
        if judging is None or parts is None:  # judged whole, against what stands now
            _log.info(
                "batch_judged_whole", batch_id=str(batch.submitted.batch_id), judged_as_it_came=judging is not None
            )
            judging = _ChunkJudging(batch.submitted, batch.partition, 0)
            parts = [await self._judge_chunk(judging, batch.records, await self._set_up(registry=False))]
        # Pure CPU for a large batch: on a thread, so the loop keeps the group's heartbeat going.
        decision, messages = await self._on_worker(
            finish_and_write, batch, judging.judging, parts, causation_id, self._topics
        )
        # The messages hold what the parts' verdicts and JSON said: freed before storing and sending (a
        # retry of this decision finds no parts and judges the batch whole).
        parts.clear()
        return decision, messages

    async def _judged_as_they_came(
        self, batch: AssembledBatch, judging: _ChunkJudging | None
    ) -> list[_JudgedPart] | None:
        """The batch's chunks as judged when they arrived, in order, if each was judged and what they
        were judged against still stands; None otherwise."""
        if judging is None:
            return None
        tasks = judging.tasks()
        await asyncio.wait(tasks)
        if any(task.cancelled() or task.exception() is not None for task in tasks):
            return None  # met again (and reported, or waited out) when the batch is judged whole
        parts = judging.parts
        if judging.repeated or judging.order != list(range(len(judging.order))):
            return None
        if sum(part.size for part in parts) != len(batch.records):
            return None
        return parts if await self._still_current(judging) else None

    async def _still_current(self, judging: _ChunkJudging) -> bool:
        """Whether judging the whole batch now would read what its chunks read when they came: the
        AO's states (only this decider writes them, deciding the AO's batches in order: unchanged
        unless it decided or reset the AO since), the catalogue and the registry. (Its date is the batch's.)"""
        assert judging.setup is not None
        setup = judging.setup.result()
        if self._ao_decisions.get(judging.submitted.ao_id, 0) != judging.ao_decisions:
            return False
        if time.monotonic() - judging.started > REGISTRY_CHANGES_KEPT_SECONDS / 2:
            return False  # the registry's record of its changes may not reach back so far
        catalogue, _ = await self._reference.current()
        if catalogue is not setup.catalogue:
            return False
        return not await self._registry.registry_changed_since(setup.registry_snapshot)

    async def _set_up(self, *, registry: bool = True) -> _Setup:
        snapshot = await self._registry.registry_snapshot() if registry else ""
        catalogue, organisations = await self._reference.current()
        return _Setup(catalogue, organisations, snapshot)

    async def _judge_chunk(
        self,
        judging: _ChunkJudging,
        records: Sequence[SubmittedRecord],
        setup: _Setup | None = None,
    ) -> _JudgedPart:
        """Judges `records` of the batch. Their keys are found while PostgreSQL finds the learners and
        the states."""
        if setup is None:
            assert judging.setup is not None
            setup = await judging.setup
        finding = asyncio.create_task(self._find_keys(records, judging.submitted.batch_id))
        try:
            learners = await self._registry.learners_for(record.uln for record in records if record.uln)
            reference = ReferenceSnapshot(setup.catalogue, setup.organisations, learners)
            needed = achievement_states_needed(records, reference)
            existing = await self._decisions.existing_states(judging.submitted.ao_id, needed)
            keys = await finding
        finally:
            finding.cancel()  # when a look-up failed first; nothing once it is done
            await asyncio.wait([finding])
            if not finding.cancelled():
                finding.exception()  # retrieved: the look-up's failure is what the caller hears about
        told_erased: frozenset[str] = frozenset()
        if erased := erased_ulns(records, keys):  # rare: asked only then
            ao_id, merges = judging.submitted.ao_id, reference.merges
            held = await self._decisions.ulns_with_achievements(ao_id, learners_ulns(erased, merges))
            told_erased = ulns_told_erased(erased, merges, held)
        with collector_paused():
            return await self._on_worker(judge_part, judging.judging, records, keys, reference, existing, told_erased)

    async def _on_worker(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, functools.partial(work, *args))

    async def _find_keys(self, records: Sequence[SubmittedRecord], batch_id: uuid.UUID) -> KeyLookup:
        """The records' learners' keys, and under UNKEYED_RECORDS the batch's own key when some record
        is sealed under it: looked for only when a record names no learner with a key."""
        ulns, unnamed = ulns_to_look_up(records)
        try:
            keys = await self._keys.find(ulns)
            if (unnamed or len(keys) < len(ulns)) and sealed_without_learner_key(records, keys):
                name = batch_key_name(batch_id)
                batch_key = (await self._keys.find([name])).get(name)
                if batch_key is not None:
                    keys[UNKEYED_RECORDS] = batch_key
                    if not isinstance(batch_key, Erased):
                        self._batch_keyed.add(batch_id)
        except KeyringUnavailable as error:  # waited out like PostgreSQL away, never a reason to park the batch
            raise Transient(str(error)) from error
        return keys

    async def _destroy_batch_key(self, batch_id: uuid.UUID) -> None:
        """Destroys the batch's own key: its decision is stored, and nothing opens its records again."""
        try:
            await self._keys.destroy(batch_key_name(batch_id))
        except KeyringUnavailable as error:
            raise Transient(str(error)) from error
        self._batch_keyed.discard(batch_id)

    async def _publish(self, messages: Sequence[OutgoingMessage], offsets: dict[TopicPartition, int]) -> None:
        async with self._producer.transaction():
            await self._send(messages)
            await self._producer.send_offsets_to_transaction(offsets, self._group_id)

    async def _send(self, messages: Sequence[OutgoingMessage]) -> None:
        """Fills one record batch per partition at a time: a `send` per message would cost a coroutine,
        a metadata check and a delivery future each, ~10,000 times per large batch. Each partition's
        messages keep their order. Returns once every batch is written (`_delivered`)."""
        producer = self._producer
        partitions: dict[str, list[int]] = {}
        filling: dict[tuple[str, int], BatchBuilder] = {}
        deliveries: list[Any] = []
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
                deliveries.append(await producer.send_batch(builder, topic, partition=partition))
                builder = filling[(topic, partition)] = producer.create_batch()
                builder.append(timestamp=None, key=key, value=value)
        for (topic, partition), builder in filling.items():
            deliveries.append(await producer.send_batch(builder, topic, partition=partition))
        await _delivered(deliveries)

    async def _dead_letter(
        self,
        partition: TopicPartition,
        record: ConsumerRecord[bytes, bytes],
        error: str,
        attempts: int = 1,
        submitted: BatchSubmitted | None = None,
        *,
        commit_at: int | None = None,
        abandon: bool = True,
    ) -> None:
        """Parks the message for operators, then sends it to the DLQ with the offsets past it and, when
        the message is of a batch, the batch's `lrs.batch.abandoned.v1`, all in one transaction. A
        message that cannot be read as a batch's names no batch: there is no one to tell. `commit_at`:
        the offset committable when the message was read, if attempts were made since. `abandon`: False
        for the end of a batch whose start was not read (the batch may still be decided from a copy sent
        again), which is parked and gives up on nothing: no abandonment, and the batch's key is kept."""
        _log.error("batch_message_dead_lettered", partition=partition.partition, offset=record.offset, error=error)
        self._finished += 1
        MESSAGES.labels(CONSUMER, "parked").inc()
        if commit_at is None:  # refused at first sight: one failed attempt, as `Attempts` counts the ones it makes
            FAILURES.labels(CONSUMER, Failure.POISON.value).inc()
        self._parked_it = True
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
        abandoned = _abandonment(record, submitted) if abandon else None
        if commit_at is None:
            commit_at = self._assembler.committable(partition.partition, record.offset + 1)
        async with self._producer.transaction():
            # a value too large to send again goes without its value (the parked row keeps it): a KafkaError
            # here stops the process, and the same message would stop it again at every start
            await send_dead_letter(
                self._enqueue, self._topics.dead_letters(BATCH_SUBMITTED.name), record.key, record.value, letter
            )
            if abandoned is not None:
                await self._producer.send(
                    self._topics.of(BATCH_OUTCOMES), key=abandoned.correlation_id.encode(), value=encode(abandoned)
                )
            await self._producer.send_offsets_to_transaction({partition: commit_at}, self._group_id)
        if abandoned is not None:
            # the parked copy can only be skipped: its records that name no learner need their key no more
            batch_id = uuid.UUID(abandoned.correlation_id)
            await self._attempts.until_done(lambda: self._keys.destroy(batch_key_name(batch_id)))
            self._batch_keyed.discard(batch_id)

    async def _enqueue(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        """Adds a message to the open transaction (a record the producer refuses is refused here, before it)."""
        await self._producer.send(topic, key=key, value=value, headers=headers)


async def _delivered(deliveries: Sequence[Any]) -> None:
    """Waits for each record batch's delivery (`send_batch`'s future) and raises the first failure, so that the
    transaction aborts. aiokafka commits a transaction whatever became of its batches: one given up (expired
    while its partition had no leader, as a broker comes back) or refused (the gap in the producer's sequence
    such a batch leaves, in every later transaction of the producer) would be missing from a committed decision."""
    futures = [delivery for delivery in deliveries if isinstance(delivery, asyncio.Future)]
    if futures:
        await asyncio.wait(futures)
    failures = [error for future in futures if (error := future.exception()) is not None]  # each one retrieved
    if failures:
        raise failures[0]


def _count_decided(failed: bool, counts: BatchCounts) -> None:
    """A decision stored by this decider, in the metrics: the batch, and its records under the batch's result."""
    result = "failed" if failed else "completed"
    BATCHES_DECIDED.labels(result).inc()
    RECORDS_DECIDED.labels("accepted", result).inc(counts.accepted)
    RECORDS_DECIDED.labels("rejected", result).inc(counts.rejected)
    RECORDS_DECIDED.labels("no_op", result).inc(counts.no_ops)


def _ready(producer: AIOKafkaProducer) -> bool:
    """Whether the transactional producer can begin another transaction: its last one ended (committed or,
    after a failure inside it, aborted). Not after a fatal error (fenced, or its sender stopped), nor after an
    error its abort did not clear: aiokafka then refuses every later transaction."""
    manager = getattr(producer, "_txn_manager", None)  # aiokafka keeps the state there and nowhere public
    return manager is not None and manager.state is TransactionState.READY


ABANDONED_REASON = (
    "The LRS could not process this batch and has stopped trying; its operators have been alerted."
    " None of its records reached any learner's record. Submit the file again: it will be a new batch."
)


def _abandonment(record: ConsumerRecord[bytes, bytes], submitted: BatchSubmitted | None) -> Envelope | None:
    """The `lrs.batch.abandoned.v1` of the batch whose message is parked, or None when the message is
    none of a batch's (unreadable, a Sandpit reset, an event of another kind: an outcome naming a batch
    abandons nothing). Its reason is a fixed text: the error may quote the batch's data."""
    try:
        _, payload = decode_submission(record.value)
    except ValueError:
        return None
    if not isinstance(payload, BATCH_KINDS):
        return None
    batch_id, ao_id = getattr(payload, "batch_id", None), getattr(payload, "ao_id", None)
    if not isinstance(batch_id, uuid.UUID) or not isinstance(ao_id, str):
        return None
    known = submitted if submitted is not None and submitted.batch_id == batch_id else None
    abandoned = BatchAbandoned(
        batch_id=batch_id,
        ao_id=ao_id,
        reason=ABANDONED_REASON,
        job_type=None if known is None else known.header.effective_job_type,
        batch_reference=None if known is None else known.header.batch_reference,
        notification_email=None if known is None else known.header.notification_email,
        submitted_at=None if known is None else known.received_at,
        abandoned_at=utc_now(),
    )
    return wrap(
        abandoned,
        source="validation",
        correlation_id=str(batch_id),
        event_id=deterministic_id(batch_id, "validation-abandoned"),
    )


def judge_part(
    judging: BatchJudging,
    records: Sequence[SubmittedRecord],
    keys: KeyLookup,
    reference: ReferenceSnapshot,
    existing: dict[tuple[str, str], list[AchievementState]],
    told_erased: frozenset[str] = frozenset(),
) -> _JudgedPart:
    """Some records of a batch opened (`open_personal`) and judged on their own. Pure, any thread.
    `told_erased`: the erased learners' ULNs whose erasure the AO may be told of (`ulns_told_erased`)."""
    opened = open_personal(records, keys, told_erased)
    judged = judging.judge(opened.records, reference, existing)
    event_json = EventJson()
    events_json = {id(event): event_json(event) for event in judged.events()}
    return _JudgedPart(judged, opened.unverifiable, len(records), events_json, opened.details_judged)


def finish_and_write(
    batch: AssembledBatch,
    judging: BatchJudging,
    parts: Sequence[_JudgedPart],
    causation_id: str,
    topics: TopicNames = LIVE_TOPICS,
) -> tuple[BatchDecision, list[OutgoingMessage]]:
    """The decision on the batch whose records `parts` judged, in order, and its messages: pure work,
    no I/O, so it may run on any thread."""
    submitted = batch.submitted
    decided_at = utc_now()
    decision = judging.finish(
        SubmittedBatch(submitted.batch_id, submitted.ao_id, submitted.header, batch.records, submitted.received_at),
        [part.judged for part in parts],
    )
    unverifiable: dict[int, str] = {}
    details_judged: set[int] = set()
    events_json: dict[int, bytes] = {}
    first = 0
    for part in parts:
        unverifiable.update((first + index, why) for index, why in part.unverifiable.items())
        details_judged.update(first + index for index in part.details_judged)
        events_json.update(part.events_json)
        first += part.size
    decision = with_unverifiable_learners(decision, unverifiable, details_judged)
    return decision, decision_messages(submitted, decision, causation_id, decided_at, topics, events_json)


def _retrieved(task: asyncio.Task[Any]) -> None:
    """A chunk's failure is met again (and reported) when its batch is judged whole, not the event loop's."""
    if not task.cancelled():
        task.exception()
