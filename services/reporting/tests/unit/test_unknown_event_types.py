"""Reporting parks an event of a type the contracts do not know at its first attempt, as `unknown event type '…'`
(docs/events.md, "Dead letters"), where it passed over it: a pod of an older release left MI short of a newer
release's event with no dead letter, no `lrs dlq` entry and nothing to retry, while docs/deploy.md ("Upgrade") says
it parks it. Known events it has no use for are still passed over.

The real stream's handler and guard, faust's producer given a fake client (nothing connects to a broker)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from libs.platform.tests.unit.test_consumer_guard import MemoryParked
from libs.platform.tests.unit.unknown_event_types import WORDS, of_an_unknown_type

from lrs_contracts.batch import JobType
from lrs_contracts.challenge import ChallengeAcknowledged
from lrs_contracts.outcomes import BatchCompleted, BatchCounts, BatchValidationStarted
from lrs_contracts.plr import AchievementKey, AchievementWithdrawn, Provenance
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS, PLR_EVENTS
from lrs_platform.consumer import Message
from reporting.config import ReportingSettings
from reporting.projector import Publication
from reporting.stream import StreamApp, make_stream_app


class KafkaClient:
    """aiokafka's producer as faust's producer uses it: takes every message."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None]] = []

    async def send(self, topic: str, value: bytes | None, **_: Any) -> asyncio.Future[Any]:
        self.sent.append((topic, value))
        delivered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


class Projector:
    """Counts what reaches it."""

    stored_qualification_types: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.plr_writes = 0

    async def apply(self, envelope: Any, *_: Any) -> list[Publication]:
        self.applied.append(envelope.event_type)
        return []

    async def apply_plr_log(self, writes: Sequence[Any], *_: Any) -> list[Publication]:
        self.plr_writes += len(writes)
        return []

    async def send_as_stored(
        self, publications: Sequence[Publication], send: Callable[[Publication], Awaitable[None]]
    ) -> None:
        for publication in publications:
            await send(publication)


class Publishing:
    holding = False


def _stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[StreamApp, MemoryParked, Projector, KafkaClient]:
    parked, projector, kafka = MemoryParked(), Projector(), KafkaClient()
    settings = ReportingSettings(data_dir=tmp_path, retry_max_seconds=0.01)
    stream = make_stream_app(settings, projector, parked, Publishing())  # type: ignore[arg-type]
    producer: Any = stream.faust.producer
    producer._producer = kafka

    async def started() -> Any:
        return None

    monkeypatch.setattr(producer, "maybe_start", started)
    return stream, parked, projector, kafka


def _completed() -> BatchCompleted:
    return BatchCompleted(
        batch_id=uuid.uuid4(),
        ao_id="RN5133",
        job_type=JobType.FINAL,
        notification_email="mi@ao.example",
        counts=BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0),
        submitted_at=datetime(2023, 5, 22, tzinfo=UTC),
        decided_at=datetime(2023, 5, 22, tzinfo=UTC),
        results_issued_date="2023-05-15",
    )


def _encoded(payload: Any) -> bytes:
    return encode(wrap(payload, source="test", correlation_id="t"))


@pytest.mark.parametrize("topic", [BATCH_OUTCOMES.name, CHALLENGE_EVENTS.name])
async def test_an_unknown_event_type_is_parked_at_its_first_attempt_and_its_key_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topic: str
) -> None:
    stream, parked, projector, kafka = _stream(tmp_path, monkeypatch)
    completed, other = _completed(), _completed()
    key, other_key = str(completed.batch_id).encode(), str(other.batch_id).encode()
    unknown = of_an_unknown_type(_encoded(completed))
    started = BatchValidationStarted(batch_id=other.batch_id, ao_id="RN5133", record_count=1)

    await stream.guard.apply(
        [
            Message(topic, 0, 7, key, unknown),
            Message(topic, 0, 8, key, _encoded(completed)),  # the key's next: held behind it
            Message(topic, 0, 9, other_key, _encoded(started)),  # known: applied, counting for nothing
            Message(topic, 0, 10, other_key, _encoded(other)),
        ]
    )

    assert [(row.offset, row.reason, row.error, row.attempts) for row in parked.rows.values()] == [
        (7, "error", WORDS, 1),
        (8, "blocked", None, 0),
    ]
    assert projector.applied == ["lrs.batch.validation.started.v1", "lrs.batch.completed.v1"]
    assert kafka.sent == [(f"{topic}.dlq", unknown)]


async def test_an_unknown_event_type_on_the_plr_log_is_parked_at_its_first_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`REPORTING_READ_PLR_LOG`'s reader goes through the same guard: an unknown type there was passed over too."""
    stream, parked, _, kafka = _stream(tmp_path, monkeypatch)
    key = AchievementKey(ao_id="RN5133", uln="6567035160", qualification_number="10050061", award_date=date(2026, 6, 1))
    withdrawn = AchievementWithdrawn(
        achievement_id=uuid.uuid4(), key=key, provenance=Provenance(batch_id=uuid.uuid4(), line=1)
    )
    unknown = of_an_unknown_type(_encoded(withdrawn), "lrs.achievement.teleported.v1")

    await stream.guard.apply([Message(PLR_EVENTS.name, 0, 3, b"6567035160", unknown, 1_700_000_000_000)])

    [row] = parked.rows.values()
    assert (row.offset, row.error, row.attempts) == (3, "unknown event type 'lrs.achievement.teleported.v1'", 1)
    assert kafka.sent == [(f"{PLR_EVENTS.name}.dlq", unknown)]


async def test_a_known_challenge_event_is_still_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stream, parked, projector, _ = _stream(tmp_path, monkeypatch)
    acknowledged = ChallengeAcknowledged(challenge_id=uuid.uuid4(), achievement_id=uuid.uuid4(), ao_id="RN5133")
    await stream.guard.apply([Message(CHALLENGE_EVENTS.name, 0, 1, b"k", _encoded(acknowledged))])
    assert parked.rows == {} and projector.applied == ["lrs.challenge.acknowledged.v1"]
