"""Turns what events say into durable facts, and answers with the recomputed aggregates to publish."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeRaised, ChallengeRaisedV1, ChallengeResolved
from lrs_contracts.envelope import Contract, Envelope, deterministic_id
from lrs_contracts.outcomes import BatchAbandoned, BatchCompleted, BatchFailed
from lrs_contracts.registry import encode, event_type_of, wrap
from lrs_contracts.topics import (
    REPORTING_CHALLENGES,
    REPORTING_PLR_TIMELINESS,
    REPORTING_REJECTIONS,
    REPORTING_SUBMISSIONS,
    REPORTING_TIMELINESS,
)
from lrs_platform.identity import PrincipalKind
from lrs_platform.logging import get_logger
from reporting.aggregates import aggregate_key, fact_of
from reporting.store import ChallengeChange, PlrLogWrite, ReportingStore

SOURCE = "reporting"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ChallengeEvent = ChallengeRaisedV1 | ChallengeRaised | ChallengeAcknowledged | ChallengeResolved
_log = get_logger("reporting.projector")
OPERATOR_PRINCIPAL = f"{PrincipalKind.OPERATOR.value}:"


@dataclass(frozen=True)
class Publication:
    topic: str
    key: bytes
    value: bytes


def publication_of(topic: str, aggregate: Contract, key: str) -> Publication:
    body = aggregate.model_dump(mode="json")
    # The same aggregate content always gets the same event id, so a republication is recognisably a duplicate.
    event_id = deterministic_id(SOURCE, event_type_of(type(aggregate)), key, json.dumps(body, sort_keys=True))
    envelope = wrap(aggregate, source=SOURCE, correlation_id=key, event_id=event_id)
    return Publication(topic, key.encode(), encode(envelope))


def _by_the_desk(envelope: Envelope) -> bool:
    """Whether the LRS service desk made the challenge's change: the challenges service names the principal that did
    in the event's `causation_id`, an operator's `operator:…` (acting for the AO, or withdrawing for the learner)."""
    return (envelope.causation_id or "").startswith(OPERATOR_PRINCIPAL)


class ReportingProjector:
    def __init__(self, store: ReportingStore, projection_lag_bound: timedelta) -> None:
        self._store = store
        self._lag_bound = projection_lag_bound

    async def apply(self, envelope: Envelope, payload: Contract, timestamp_ms: int = 0) -> list[Publication]:
        """An outcome of a batch (`lrs.batch.outcomes.v1`) or an event of `lrs.challenge.events.v1`;
        `timestamp_ms` is the broker's time of the message (none, 0 or -1: the envelope's `occurred_at`)."""
        if isinstance(payload, BatchCompleted | BatchFailed | BatchAbandoned):
            if isinstance(payload, BatchCompleted) and payload.on_plr:
                written_at = _EPOCH + timedelta(milliseconds=timestamp_ms) if timestamp_ms > 0 else envelope.occurred_at
                await self._record_on_plr(payload, written_at)
            return await self._apply_outcome(payload)
        if isinstance(payload, ChallengeEvent):
            return await self._apply_challenge(payload, envelope.occurred_at, by_desk=_by_the_desk(envelope))
        return []

    async def apply_chunk(self, batch_id: uuid.UUID, chunk_index: int, codes: dict[str, int]) -> list[Publication]:
        """A decided chunk's rejected records per code: they count once the batch's fact is in, and the
        fact's outcome republishes."""
        await self._store.record_chunk(batch_id, chunk_index, codes)
        return []

    @property
    def stored_qualification_types(self) -> AbstractSet[str]:
        """Qualifications whose type is stored: `apply_plr_log` needs no type of theirs."""
        return self._store.stored_types

    async def apply_plr_log(self, writes: Sequence[PlrLogWrite], types: dict[str, str]) -> list[Publication]:
        """Of `lrs.plr.events.v1` (read only with `REPORTING_READ_PLR_LOG`): the latest write per batch and
        qualification, and the types recorded."""
        if not writes:
            return []
        months = await self._store.record_plr_writes(writes, types)
        return [
            publication for ao_id, period in sorted(months) for publication in await self._plr_timeliness(ao_id, period)
        ]

    async def _record_on_plr(self, completed: BatchCompleted, written_at: datetime) -> None:
        """The qualifications a completion names went onto the PLR log when it did: it is written in the
        same Kafka transaction as the batch's events, after them (decision 0107). Kept as the log's own
        writes are: the latest time per batch and qualification, the first type stored per qualification.
        Its aggregates are published with the outcome's."""
        assert completed.on_plr is not None
        writes = [
            PlrLogWrite(completed.batch_id, qualification.qualification_number, completed.ao_id, written_at)
            for qualification in completed.on_plr
        ]
        types = {
            qualification.qualification_number: qualification.qualification_type
            for qualification in completed.on_plr
            if qualification.qualification_type is not None
        }
        await self._store.record_plr_writes(writes, types)

    async def _apply_outcome(self, outcome: BatchCompleted | BatchFailed | BatchAbandoned) -> list[Publication]:
        fact = fact_of(outcome)
        new = await self._store.record_fact(fact)
        _log.info("batch_fact_recorded", batch_id=str(fact.batch_id), ao_id=fact.ao_id, period=fact.period, new=new)
        # Published even when not new: the previous run may have stopped between the insert and the send.
        publications = await self._batch_months(fact.ao_id, fact.period)
        if fact.results_issued is not None:
            publications += await self._plr_timeliness(fact.ao_id, fact.period)
        return publications

    async def every_month(self) -> list[Publication]:
        """Every aggregate of every month the store holds, as it stands: what a store rebuilt from empty
        publishes once it has caught up (decision 0161)."""
        publications: list[Publication] = []
        for ao_id, period in await self._store.months_held():
            publications += await self._batch_months(ao_id, period)
            publications += await self._plr_timeliness(ao_id, period)
            publications += await self._challenges(ao_id, period)
        return publications

    def month_locked(self, key: bytes) -> AbstractAsyncContextManager[None]:
        """Held while a month's aggregates are read again and sent (`current`): one replica at a time."""
        return self._store.month_locked(key)

    async def send_as_stored(
        self, publications: Sequence[Publication], send: Callable[[Publication], Awaitable[None]]
    ) -> None:
        """Sends the months `publications` touched as the store holds them, each read again and sent under its
        month's lock (`current`): another replica, which applied another of the month's batches, may be sending
        its figures at the same time, and the last sent of a compacted topic's key is what analysts read. `send`
        returns once its publication is out: the offset may only be committed after."""
        topics_of: dict[bytes, set[str]] = defaultdict(set)
        for publication in publications:
            topics_of[publication.key].add(publication.topic)
        for key, topics in sorted(topics_of.items()):
            async with self.month_locked(key):
                for publication in await self.current(key, topics):
                    await send(publication)

    async def current(self, key: bytes, topics: AbstractSet[str]) -> list[Publication]:
        """The aggregates of month `key` (`aggregate_key`) on `topics`, as the store holds them now: what goes out,
        read again under the month's lock, so a replica that recorded an earlier fact never sends after one that
        recorded a later (the topics are compacted: the last sent is the figure analysts read)."""
        ao_id, period = key.decode().split("|", 1)
        found: list[Publication] = []
        if topics & {REPORTING_SUBMISSIONS.name, REPORTING_TIMELINESS.name, REPORTING_REJECTIONS.name}:
            found += await self._batch_months(ao_id, period)
        if REPORTING_PLR_TIMELINESS.name in topics:
            found += await self._plr_timeliness(ao_id, period)
        if REPORTING_CHALLENGES.name in topics:
            found += await self._challenges(ao_id, period)
        return [publication for publication in found if publication.topic in topics]

    async def _batch_months(self, ao_id: str, period: str) -> list[Publication]:
        """The month's submissions, timeliness and rejections; none before a batch of it is decided."""
        month = await self._store.month(period, ao_id)
        if month is None:
            return []
        submissions, timeliness, rejections = month
        key = aggregate_key(ao_id, period)
        return [
            publication_of(REPORTING_SUBMISSIONS.name, submissions, key),
            publication_of(REPORTING_TIMELINESS.name, timeliness, key),
            publication_of(REPORTING_REJECTIONS.name, rejections, key),
        ]

    async def _plr_timeliness(self, ao_id: str, period: str) -> list[Publication]:
        """Nothing until some of the month's measured batches are on the PLR log."""
        found = await self._store.plr_timeliness(period, period, ao_id, self._lag_bound)
        key = aggregate_key(ao_id, period)
        return [publication_of(REPORTING_PLR_TIMELINESS.name, aggregate, key) for aggregate in found]

    async def _apply_challenge(
        self, event: ChallengeEvent, occurred_at: datetime, *, by_desk: bool
    ) -> list[Publication]:
        """Counts and dates only: a raise's reason (sealed or, before sealing, in clear) is never kept; of who acted,
        only whether it was the LRS service desk (`by_desk`), for the AO."""
        if isinstance(event, ChallengeRaisedV1 | ChallengeRaised):
            change = ChallengeChange(event.challenge_id, event.ao_id, raised_at=occurred_at)
        elif isinstance(event, ChallengeAcknowledged):
            change = ChallengeChange(
                event.challenge_id, event.ao_id, acknowledged_at=occurred_at, acknowledged_by_desk=by_desk
            )
        else:
            change = ChallengeChange(
                event.challenge_id,
                event.ao_id,
                resolved_at=occurred_at,
                resolution=event.resolution.value,
                resolved_by_desk=by_desk,
            )
        month = await self._store.record_challenge(change)
        if month is None:
            return []
        return await self._challenges(*month)

    async def _challenges(self, ao_id: str, period: str) -> list[Publication]:
        """The month's challenges; none before one raised in it is seen."""
        found = await self._store.challenges(period, period, ao_id)
        return [publication_of(REPORTING_CHALLENGES.name, each, aggregate_key(ao_id, period)) for each in found]
