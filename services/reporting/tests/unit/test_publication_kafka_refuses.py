"""Kafka refusing or not taking a publication (a reporting topic not granted to the service, its metadata
unavailable) is waited out like Kafka away, never taken for a bad outcome: faust raises the `KafkaError` met while
queuing a message as its own `ProducerSendError`, which the platform did not know for Kafka's, and every outcome was
parked after 3 quick attempts while a topic's ACL was missing.

faust itself does the wrapping here: only its Kafka client (aiokafka's producer) is faked."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError, TopicAuthorizationFailedError
from faust.exceptions import ProducerSendError

from lrs_contracts.batch import JobType
from lrs_contracts.dead_letters import DeadLetter
from lrs_contracts.outcomes import BatchCompleted, BatchCounts
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, REPORTING_SUBMISSIONS
from lrs_platform.consumer import Failure, Message, Transient, classify_failure
from lrs_platform.parking import ParkedRow
from reporting.config import ReportingSettings
from reporting.projector import Publication
from reporting.stream import StreamApp, make_stream_app

KEY = b"RN5133|2023-05"


class KafkaClient:
    """aiokafka's producer, failing its first `failing` sends with `error` (as it raises them while queuing)."""

    def __init__(self, failing: int, error: Exception) -> None:
        self.failing, self.error = failing, error
        self.tries = 0
        self.sent: list[tuple[str, bytes | None]] = []

    async def send(self, topic: str, value: bytes | None, **_: Any) -> asyncio.Future[Any]:
        self.tries += 1
        if self.tries <= self.failing:
            raise self.error
        self.sent.append((topic, value))
        delivered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


class Projector:
    """Each outcome touches one month, whose submissions are sent as stored."""

    stored_qualification_types: frozenset[str] = frozenset()

    async def apply(self, *_: Any) -> list[Publication]:
        return [Publication(REPORTING_SUBMISSIONS.name, KEY, b'{"figures": 1}')]

    async def apply_plr_log(self, *_: Any) -> list[Publication]:
        return []

    async def send_as_stored(
        self, publications: Sequence[Publication], send: Callable[[Publication], Awaitable[None]]
    ) -> None:
        for publication in publications:
            await send(publication)


class Parked:
    """The parked table: what is parked, and one dead letter waiting to be sent when given."""

    def __init__(self, pending: Sequence[ParkedRow] = ()) -> None:
        self.parked: list[Any] = []
        self.pending = list(pending)

    async def held_streams(self, consumer: str, among: Iterable[Any]) -> dict[Any, tuple[int, int]]:
        return {}  # nothing parked before

    async def park(self, parkings: Sequence[Any], *, dlq_pending: bool) -> None:
        self.parked += parkings

    async def counts(self, consumer: str) -> dict[str, int]:
        return {"error": len(self.parked)} if self.parked else {}

    async def pending_dead_letters(self, consumer: str) -> list[ParkedRow]:
        return list(self.pending)

    async def mark_published(self, ids: Sequence[int]) -> None:
        self.pending = [row for row in self.pending if row.id not in ids]


class Publishing:
    """Not catching up: what is applied is published as it comes."""

    holding = False


def _stream(tmp_path: Path, parked: Parked, kafka: KafkaClient, monkeypatch: pytest.MonkeyPatch) -> StreamApp:
    settings = ReportingSettings(data_dir=tmp_path, retry_max_seconds=0.01)  # waits of 10 ms between attempts
    stream = make_stream_app(settings, Projector(), parked, Publishing())  # type: ignore[arg-type]
    producer: Any = stream.faust.producer
    producer._producer = kafka  # the started producer's client: nothing connects to a broker

    async def started() -> Any:
        return None

    monkeypatch.setattr(producer, "maybe_start", started)
    return stream


def _outcome() -> Message:
    completed = BatchCompleted(
        batch_id=uuid.uuid4(),
        ao_id="RN5133",
        job_type=JobType.FINAL,
        notification_email="mi@ao.example",
        counts=BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0),
        submitted_at=datetime(2023, 5, 22, tzinfo=UTC),
        decided_at=datetime(2023, 5, 22, tzinfo=UTC),
        results_issued_date="2023-05-15",
    )
    value = encode(wrap(completed, source="test", correlation_id="t"))
    return Message(BATCH_OUTCOMES.name, 0, 7, str(completed.batch_id).encode(), value, 1_684_713_600_000)


@pytest.mark.parametrize(
    "error",
    [
        KafkaTimeoutError(),  # the topic's metadata not had within the producer's request timeout
        TopicAuthorizationFailedError(REPORTING_SUBMISSIONS.name),  # the topic not granted: refused at once
    ],
    ids=["metadata-timeout", "topic-not-granted"],
)
async def test_an_outcome_whose_publication_kafka_does_not_take_is_retried_not_parked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    parked = Parked()
    kafka = KafkaClient(failing=5, error=error)  # more than the 3 attempts a poison is given
    stream = _stream(tmp_path, parked, kafka, monkeypatch)

    await stream.guard.apply([_outcome()])

    assert parked.parked == []
    assert kafka.sent == [(REPORTING_SUBMISSIONS.name, b'{"figures": 1}')]  # sent once Kafka took it
    assert kafka.tries == 6


async def test_a_publication_refused_for_its_size_stays_what_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sending it again would fail again: not waited out for ever (the outcome is parked, as before)."""
    parked = Parked()
    kafka = KafkaClient(failing=100, error=MessageSizeTooLargeError())
    stream = _stream(tmp_path, parked, kafka, monkeypatch)

    await stream.guard.apply([_outcome()])

    assert [parking.offset for parking in parked.parked] == [7]
    assert kafka.tries == 3


async def test_a_dead_letter_kafka_does_not_take_fails_as_transient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator's retry or skip sending a dead letter meanwhile is answered 503 (try again later), not 500."""
    row = ParkedRow(
        id=1,
        consumer="reporting",
        topic=BATCH_OUTCOMES.name,
        partition=0,
        offset=7,
        key=b"k",
        value=b"{}",
        timestamp_ms=0,
        reason="error",
        error="ValueError: x",
        attempts=3,
        event_id=None,
        event_type=None,
        parked_at=datetime(2023, 5, 22, tzinfo=UTC),
    )
    assert isinstance(row.dead_letter(), DeadLetter)
    kafka = KafkaClient(failing=1, error=KafkaTimeoutError())
    stream = _stream(tmp_path, Parked([row]), kafka, monkeypatch)

    with pytest.raises(Transient) as raised:
        await stream.dead_letters.publish_pending("reporting")

    assert classify_failure(raised.value) is Failure.TRANSIENT
    assert isinstance(raised.value.__cause__, ProducerSendError)  # faust's, from Kafka's
    assert isinstance(raised.value.__cause__.__cause__, KafkaTimeoutError)
    assert await stream.dead_letters.publish_pending("reporting") == 1  # Kafka back: sent
    assert kafka.sent == [(f"{BATCH_OUTCOMES.name}.dlq", b"{}")]
