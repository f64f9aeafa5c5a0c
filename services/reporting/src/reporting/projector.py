"""Turns what events say into durable facts, and answers with the recomputed aggregates to publish."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from lrs_platform.logging import get_logger
from reporting.aggregates import aggregate_key, fact_of
from reporting.store import ChallengeChange, PlrLogWrite, ReportingStore

SOURCE = "reporting"
ChallengeEvent = ChallengeRaisedV1 | ChallengeRaised | ChallengeAcknowledged | ChallengeResolved
_log = get_logger("reporting.projector")


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


class ReportingProjector:
    def __init__(self, store: ReportingStore, projection_lag_bound: timedelta) -> None:
        self._store = store
        self._lag_bound = projection_lag_bound

    async def apply(self, envelope: Envelope, payload: Contract) -> list[Publication]:
        """An outcome of a batch (`lrs.batch.outcomes.v1`) or an event of `lrs.challenge.events.v1`."""
        if isinstance(payload, BatchCompleted | BatchFailed | BatchAbandoned):
            return await self._apply_outcome(payload)
        if isinstance(payload, ChallengeEvent):
            return await self._apply_challenge(payload, envelope.occurred_at)
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
        """Of `lrs.plr.events.v1`: the latest write per batch and qualification, and the types recorded."""
        if not writes:
            return []
        months = await self._store.record_plr_writes(writes, types)
        return [
            publication for ao_id, period in sorted(months) for publication in await self._plr_timeliness(ao_id, period)
        ]

    async def _apply_outcome(self, outcome: BatchCompleted | BatchFailed | BatchAbandoned) -> list[Publication]:
        fact = fact_of(outcome)
        new = await self._store.record_fact(fact)
        _log.info("batch_fact_recorded", batch_id=str(fact.batch_id), ao_id=fact.ao_id, period=fact.period, new=new)
        # Published even when not new: the previous run may have stopped between the insert and the send.
        [(submissions, timeliness)] = await self._store.aggregates(fact.period, fact.ao_id)
        [rejections] = await self._store.rejections(fact.period, fact.period, fact.ao_id)
        key = aggregate_key(fact.ao_id, fact.period)
        publications = [
            publication_of(REPORTING_SUBMISSIONS.name, submissions, key),
            publication_of(REPORTING_TIMELINESS.name, timeliness, key),
            publication_of(REPORTING_REJECTIONS.name, rejections, key),
        ]
        if fact.results_issued is not None:
            publications += await self._plr_timeliness(fact.ao_id, fact.period)
        return publications

    async def _plr_timeliness(self, ao_id: str, period: str) -> list[Publication]:
        """Nothing until some of the month's measured batches are on the PLR log."""
        found = await self._store.plr_timeliness(period, period, ao_id, self._lag_bound)
        key = aggregate_key(ao_id, period)
        return [publication_of(REPORTING_PLR_TIMELINESS.name, aggregate, key) for aggregate in found]

    async def _apply_challenge(self, event: ChallengeEvent, occurred_at: datetime) -> list[Publication]:
        """Counts and dates only: a raise's reason (sealed or, before sealing, in clear) is never kept."""
        if isinstance(event, ChallengeRaisedV1 | ChallengeRaised):
            change = ChallengeChange(event.challenge_id, event.ao_id, raised_at=occurred_at)
        elif isinstance(event, ChallengeAcknowledged):
            change = ChallengeChange(event.challenge_id, event.ao_id, acknowledged_at=occurred_at)
        else:
            change = ChallengeChange(
                event.challenge_id, event.ao_id, resolved_at=occurred_at, resolution=event.resolution.value
            )
        month = await self._store.record_challenge(change)
        if month is None:
            return []
        ao_id, period = month
        [challenges] = await self._store.challenges(period, period, ao_id)
        return [publication_of(REPORTING_CHALLENGES.name, challenges, aggregate_key(ao_id, period))]
