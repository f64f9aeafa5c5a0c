"""Read your writes: a PLR read that names a write waits, within bounds, until the projection has applied it.

Not a route module: a read it cannot wait for raises one of its own errors (`InvalidMinOffsets`, `NotYetProjected`,
`LogUnavailable`), and `plr_routes`, the HTTP edge, answers each as a problem."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.logging import get_logger
from plr_projector.consumer import Runner, TopicPositions
from plr_projector.endpoints import Projector
from plr_projector.projection import PLR_TOPIC, PROJECTED_TOPICS

_log = get_logger("plr_projector")


class ReadYourWritesError(Exception):
    """A read that names a write which cannot be waited for: `detail` says why, to the caller."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidMinOffsets(ReadYourWritesError):
    """`min_offsets` names no offset this projector can wait for (the route answers 422)."""


class NotYetProjected(ReadYourWritesError):
    """The wait was spent before the projection applied the write (the route answers 503 PROJECTION_PENDING);
    `retry_after`: whether trying again soon will see it."""

    def __init__(self, detail: str, *, retry_after: bool = True) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class LogUnavailable(ReadYourWritesError):
    """Kafka did not say where the PLR log ends, which an `after_batch` read needs (the route answers 503)."""


def parse_min_offsets(text: str) -> dict[tuple[str, int], int]:
    """`P:O[,P:O...]` for the PLR topic, or `topic:P:O`: wait until the event at offset O is projected."""
    targets: dict[tuple[str, int], int] = {}
    for part in filter(None, (item.strip() for item in text.split(","))):
        pieces = part.rsplit(":", 2)
        try:
            if len(pieces) == 2:
                topic, partition, offset = PLR_TOPIC, int(pieces[0]), int(pieces[1])
            elif len(pieces) == 3:
                topic, partition, offset = pieces[0], int(pieces[1]), int(pieces[2])
            else:
                raise ValueError(part)
        except ValueError as error:
            raise InvalidMinOffsets("Use partition:offset or topic:partition:offset.") from error
        if topic not in PROJECTED_TOPICS:
            raise InvalidMinOffsets(f"{topic} is not projected here.")
        key = (topic, partition)
        targets[key] = max(targets.get(key, 0), offset + 1)
    return targets


async def _poll(probe: Any, deadline: float, runner: Runner) -> bool:
    """Asks `probe` until it says yes or `deadline` passes: again after each step the runner commits
    here, and at growing intervals for a runner elsewhere (an API replica)."""
    delay = 0.02
    while True:
        if await probe():
            return True
        if time.monotonic() >= deadline:
            return False
        await runner.stepped(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 0.2)


LOG_END_FLOOR_SECONDS = 1.0
"""What the log's end is asked for at least, though the read's wait is spent: a broker answers in milliseconds."""


async def _log_ends(projector: Projector, partitions: list[TopicPartition], deadline: float) -> TopicPositions:
    """The PLR log's end offsets, the one thing a read asks Kafka for: a broker that cannot be reached (a reader
    stays ready without Kafka) answers this request with a 503 within its wait, not a 500 after the client's
    request timeout (40 s): `LogUnavailable`."""
    try:
        async with asyncio.timeout(max(deadline - time.monotonic(), LOG_END_FLOOR_SECONDS)):
            return await projector.probe.end_offsets(partitions)
    except (KafkaError, TimeoutError) as error:
        _log.warning("log_end_unavailable", error=type(error).__name__)
        raise LogUnavailable(
            "An after_batch read needs the PLR log's end, and Kafka did not answer: send the request again later,"
            " or read without after_batch."
        ) from error


@dataclass(frozen=True)
class BatchScope:
    """Which of a batch's events an `after_batch` read may see (decision 0003: a batch id tells a reader nothing of
    what is not theirs). An AO sees only its own batches' events: another AO's batch is, to it, one that put nothing
    on the PLR. A learner or provider sees only the batch's events on the PLR it reads: a batch with none there
    answers as an unknown id does, whether it put events on other learners or not yet any. An operator sees all."""

    ao_id: str | None = None
    ulns: tuple[str, ...] | None = None


def batch_scope(principal: Principal, ulns: Sequence[str]) -> BatchScope:
    """The scope of `principal`'s `after_batch` read of the PLR of `ulns` (every ULN of the learner)."""
    if principal.kind is PrincipalKind.AO:
        return BatchScope(ao_id=principal.id)
    if principal.kind in (PrincipalKind.LEARNER, PrincipalKind.PROVIDER):
        return BatchScope(ulns=tuple(ulns))
    return BatchScope()


def _batch_not_seen(scope: BatchScope) -> str:
    """Why an `after_batch` read found none of the batch's events, and where the caller can find out which: ingest's
    batch route for an AO and an operator, who may read it; a learner or a provider may not (403), so they are told
    what they can do instead."""
    if scope.ulns is None:
        return (
            "No event of this batch has been projected yet (a completed batch's may wait in the projector's dead"
            " letters, which an operator deals with), or the batch put nothing on the PLR (it failed, was refused,"
            " held by maintenance, or accepted no record): ingest's GET /v1/batches/{id} says which."
        )
    return (
        "No event of this batch is on this Personal Learning Record yet: it may still be on its way, or the batch may"
        " put nothing on it (it failed, was refused, or recorded nothing for this learner). Read the record again in"
        " a while without after_batch, or ask the awarding organisation that sent the batch whether it completed."
    )


async def read_your_writes(
    projector: Projector,
    min_offsets: str | None,
    after_batch: uuid.UUID | None,
    wait_ms: int | None,
    *,
    scope: BatchScope,
) -> dict[str, Any]:
    """Waits, within `wait_ms` (at most the projector's `read_wait_max_ms`), until the projection has applied what
    `min_offsets` and `after_batch` name, and says how long it waited; raises a `ReadYourWritesError` if it cannot."""
    if not min_offsets and after_batch is None:
        return {}
    budget_ms = min(wait_ms if wait_ms is not None else 10_000, projector.read_wait_max_ms)
    started = time.monotonic()
    deadline = started + budget_ms / 1000
    targets = parse_min_offsets(min_offsets) if min_offsets else {}
    held = {(projector.topics.logical(tp.topic), tp.partition) for tp in projector.live.partitions}
    if held and (absent := sorted(set(targets) - held)):
        topic, partition = absent[0]
        raise InvalidMinOffsets(
            f"{topic} has no partition {partition}: its partitions are 0 to"
            f" {max(number for name, number in held if name == topic)}.",
        )
    consistency: dict[str, Any] = {}
    if after_batch is not None:
        # A batch's PLR events are appended in one Kafka transaction: once one of them is projected
        # all of them are in the log, so waiting for the log's end as of that moment covers the rest.
        async def seen() -> bool:
            async with projector.pool.acquire() as connection:
                applied = await projector.model.batch_events_applied(
                    connection, after_batch, scope.ulns, ao_id=scope.ao_id
                )
            return applied > 0

        if not await _poll(seen, deadline, projector.live):
            # the projector cannot tell a batch on its way from one that put nothing on the PLR: no Retry-After,
            # which a client would follow for ever for a batch that failed, was refused or accepted nothing
            raise NotYetProjected(_batch_not_seen(scope), retry_after=False)
        plr_partitions = [tp for tp in projector.live.partitions if projector.topics.logical(tp.topic) == PLR_TOPIC]
        for key, end in (await _log_ends(projector, plr_partitions, deadline)).items():
            targets[key] = max(targets.get(key, 0), end)

    async def reached() -> bool:
        async with projector.pool.acquire() as connection:
            stored = await projector.model.offsets(connection)
        return all(stored.get(key, 0) >= target for key, target in targets.items())

    if targets and not await _poll(reached, deadline, projector.live):
        raise NotYetProjected(f"The projection has not reached the requested offsets within {budget_ms} ms.")
    if after_batch is not None:
        consistency["after_batch"] = str(after_batch)
    consistency["waited_ms"] = round((time.monotonic() - started) * 1000, 1)
    return consistency
