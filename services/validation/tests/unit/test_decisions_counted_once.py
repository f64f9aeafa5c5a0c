"""A batch is counted and logged as decided once, by the decider that stored its decision (reconcile walk, findings
3 and 4). Read again after a restart, a rebalance or a group's reset, a batch whose decision is stored is published
(if it was not) and logged `batch_decided_already`: counted again, it made `lrs_validation_batches_total` disagree
with the records' counter and the MI, and could fire the RS005 alert with no new failure. Its records are counted
under their batch's result, so that `result="completed"` matches the MI's accepted and unchanged records."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import REGISTRY

from lrs_contracts.topics import BATCH_OUTCOMES
from validation.decider import BATCH_RESULTS
from validation.decision_store import OutgoingMessage, StoredDecision

from .decider_fakes import PARTITION, batch_records, decider, offer_all
from .test_consumer_decider import (
    DecidedElsewhere,
    EmptyReference,
    FakeDecisions,
    FakeParked,
    FakeProducer,
    UndecidedBatches,
)
from .test_decider_broker_away import FailingProducer, NothingParked

STATUSES = ("accepted", "rejected", "no_op")


def _counters() -> dict[tuple[str, ...], float]:
    counted: dict[tuple[str, ...], float | None] = {}
    for result in BATCH_RESULTS:
        counted[("batches", result)] = REGISTRY.get_sample_value("lrs_validation_batches_total", {"result": result})
        for status in STATUSES:
            labels = {"status": status, "result": result}
            counted[("records", status, result)] = REGISTRY.get_sample_value("lrs_validation_records_total", labels)
    return {key: value or 0.0 for key, value in counted.items()}


@dataclass
class Watched:
    """What a decider logged about batches, and how its counters moved, while watched."""

    said: list[MutableMapping[str, Any]] = field(default_factory=list)
    counted: dict[tuple[str, ...], float] = field(default_factory=dict)

    def events(self) -> list[str]:
        return [entry["event"] for entry in self.said]


@contextmanager
def watched() -> Iterator[Watched]:
    seen, before = Watched(), _counters()
    with structlog.testing.capture_logs() as logs:
        yield seen
    seen.said = [entry for entry in logs if entry["event"].startswith("batch_decided")]
    seen.counted = {key: value - before[key] for key, value in _counters().items() if value != before[key]}


async def test_a_batch_decided_here_is_counted_and_logged_once_as_before() -> None:
    batch_id, decisions = uuid.uuid4(), UndecidedBatches()
    target = decider(decisions, FakeProducer(), FakeParked(), reference=EmptyReference())
    with watched() as seen:
        await offer_all(target, batch_records(batch_id, first_offset=0))

    [said] = seen.said
    assert said["event"] == "batch_decided"
    assert set(said) == {"event", "log_level", "batch_id", "ao_id", "records", "failed", "messages", "ms", "cpu_ms"}
    assert (said["batch_id"], said["records"]) == (str(batch_id), 1)
    result = "failed" if said["failed"] else "completed"
    assert seen.counted[("batches", result)] == 1
    records = {key: value for key, value in seen.counted.items() if key[0] == "records"}
    assert sum(records.values()) == 1 and all(key[2] == result for key in records)  # under its batch's result


async def test_a_batch_whose_decision_was_stored_before_is_published_and_not_counted_again() -> None:
    """A decider that died before its Kafka commit: the next one publishes the stored decision, counting nothing."""
    batch_id, producer = uuid.uuid4(), FakeProducer()
    decisions = FakeDecisions([])  # every batch found decided, not yet published
    with watched() as seen:
        await offer_all(decider(decisions, producer, FakeParked()), batch_records(batch_id, first_offset=40))

    assert decisions.published == [batch_id]
    assert producer.transactions[-1] == [
        (BATCH_OUTCOMES.name, (str(batch_id).encode(), b"{}", None)),
        ("offsets", {PARTITION: 43}),
    ]
    assert seen.events() == ["batch_decided_already"]
    assert (seen.said[0]["published_again"], seen.said[0]["messages"]) == (True, 1)
    assert seen.counted == {}


@dataclass
class DecidedAndPublished(FakeDecisions):
    """Every batch found decided and published: read again after its group's offsets were reset."""

    async def stored(self, batch_id: uuid.UUID) -> StoredDecision | None:
        return StoredDecision(batch_id, True, (OutgoingMessage(BATCH_OUTCOMES.name, str(batch_id), b"{}"),), True)


async def test_a_failed_batch_read_again_after_its_publishing_sends_nothing_and_counts_nothing() -> None:
    """The RS005 alert counts failed batches: a redelivered partition of them must not page."""
    batch_id, producer = uuid.uuid4(), FakeProducer()
    decisions = DecidedAndPublished([])
    with watched() as seen:
        await offer_all(decider(decisions, producer, FakeParked()), batch_records(batch_id, first_offset=40))

    assert decisions.published == []
    assert [topic for transaction in producer.transactions for topic, _ in transaction] == [BATCH_OUTCOMES.name]
    assert seen.events() == ["batch_decided_already"]
    assert (seen.said[0]["failed"], seen.said[0]["published_again"]) == (True, False)
    assert seen.counted == {}


async def test_a_decision_another_decider_stored_first_is_counted_by_that_decider_not_this_one() -> None:
    batch_id, decisions = uuid.uuid4(), DecidedElsewhere()
    target = decider(decisions, FakeProducer(), FakeParked(), reference=EmptyReference())
    with watched() as seen:
        await offer_all(target, batch_records(batch_id, first_offset=0))

    assert decisions.published == [batch_id]  # theirs, published here
    assert seen.events() == ["batch_decided_already"] and seen.said[0]["published_again"] is True
    assert seen.counted == {}  # not even the records this decider judged before it found theirs


@dataclass
class KeptDecisions(UndecidedBatches):
    """No batch decided at first; a decision recorded is found stored (unpublished until marked) from then on."""

    kept: dict[uuid.UUID, StoredDecision] = field(default_factory=dict)

    async def stored(self, batch_id: uuid.UUID) -> StoredDecision | None:
        found = self.kept.get(batch_id)
        return (
            None
            if found is None
            else StoredDecision(batch_id, found.failed, found.messages, batch_id in self.published)
        )

    async def record(self, batch_id: uuid.UUID, ao_id: str, failed: bool, messages: Any, *args: Any) -> StoredDecision:
        stored = await super().record(batch_id, ao_id, failed, messages, *args)
        self.kept[batch_id] = stored
        return stored

    async def is_decided(self, batch_id: uuid.UUID) -> bool:
        return batch_id in self.kept


async def test_a_decision_stored_here_whose_publishing_is_retried_is_counted_and_logged_once() -> None:
    """The broker away as the decision goes out: stored, counted, then published by the retry as `batch_decided`."""
    batch_id, decisions = uuid.uuid4(), KeptDecisions()
    producer = FailingProducer([KafkaTimeoutError()])
    target = decider(decisions, producer, NothingParked(), reference=EmptyReference())
    with watched() as seen:
        await offer_all(target, batch_records(batch_id, first_offset=0))

    assert producer.aborted == 1 and decisions.published == [batch_id]
    assert seen.events() == ["batch_decided"]
    assert sum(value for key, value in seen.counted.items() if key[0] == "batches") == 1
    assert sum(value for key, value in seen.counted.items() if key[0] == "records") == 1
