"""An `after_batch` read asks Kafka for the PLR log's end: the one PLR read that needs Kafka. A reader stays ready
without Kafka (its other reads come from PostgreSQL), so with the broker out of reach that read alone answers a 503
problem within its wait, not a 500 once the Kafka client gives up (40 s), or nothing at all."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from lrs_platform.problems import ProblemError
from plr_projector.endpoints import Projector
from plr_projector.plr_routes import waited_for_writes
from plr_projector.projection import PLR_TOPIC
from plr_projector.read_your_writes import BatchScope

WAIT_MS = 300


async def _refused(_partitions: list[TopicPartition]) -> dict[tuple[str, int], int]:
    raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")


async def _timed_out(_partitions: list[TopicPartition]) -> dict[tuple[str, int], int]:
    raise KafkaTimeoutError()


async def _no_answer(_partitions: list[TopicPartition]) -> dict[tuple[str, int], int]:
    """What aiokafka does while no broker answers: it tries again until its request timeout (40 s)."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def _reader(end_offsets: Callable[[list[TopicPartition]], Awaitable[dict[tuple[str, int], int]]]) -> Projector:
    """A reader whose model has applied one event of the batch, and whose log probe is `end_offsets`."""

    @contextlib.asynccontextmanager
    async def acquire() -> AsyncIterator[object]:
        yield object()

    async def applied(*_args: Any, **_kwargs: Any) -> int:
        return 1

    async def offsets(_connection: object) -> dict[tuple[str, int], int]:
        return {(PLR_TOPIC, 0): 5}

    async def stepped(timeout: float) -> None:
        await asyncio.sleep(timeout)

    live = SimpleNamespace(
        partitions=[TopicPartition(PLR_TOPIC, 0)],
        model=SimpleNamespace(batch_events_applied=applied, offsets=offsets),
        stepped=stepped,
    )
    return cast(
        Projector,
        SimpleNamespace(
            pool=SimpleNamespace(acquire=acquire),
            live=live,
            model=live.model,
            topics=SimpleNamespace(logical=lambda name: name),
            probe=SimpleNamespace(end_offsets=end_offsets),
            read_wait_max_ms=30_000,
        ),
    )


@pytest.mark.parametrize("end_offsets", [_refused, _timed_out, _no_answer], ids=["refused", "timeout", "no answer"])
async def test_an_after_batch_read_answers_503_within_its_wait_when_kafka_is_out_of_reach(
    end_offsets: Callable[[list[TopicPartition]], Awaitable[dict[tuple[str, int], int]]],
) -> None:
    with pytest.raises(ProblemError) as raised:  # not TimeoutError: the read gives up within its own wait
        async with asyncio.timeout(5):
            await waited_for_writes(_reader(end_offsets), None, uuid.uuid4(), WAIT_MS, scope=BatchScope())

    assert raised.value.problem.status == 503
    assert raised.value.problem.title == "Log unavailable"
    assert "after_batch" in (raised.value.problem.detail or "")
    assert raised.value.headers.get("Retry-After") == "5"


async def test_an_after_batch_read_with_kafka_answering_reads_as_before() -> None:
    async def ends(_partitions: list[TopicPartition]) -> dict[tuple[str, int], int]:
        return {(PLR_TOPIC, 0): 5}

    consistency = await waited_for_writes(_reader(ends), None, batch := uuid.uuid4(), WAIT_MS, scope=BatchScope())

    assert consistency["after_batch"] == str(batch)
