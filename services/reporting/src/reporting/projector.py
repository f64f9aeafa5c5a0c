"""Turns one outcome message into durable facts, and answers with the recomputed aggregates to publish."""

from __future__ import annotations

import json
from dataclasses import dataclass

from lrs_contracts.envelope import Contract, deterministic_id
from lrs_contracts.outcomes import BatchCompleted, BatchFailed, BatchRecordsDecided
from lrs_contracts.registry import encode, event_type_of, wrap
from lrs_contracts.topics import REPORTING_SUBMISSIONS, REPORTING_TIMELINESS
from lrs_platform.logging import get_logger
from reporting.aggregates import aggregate_key, fact_of
from reporting.store import ReportingStore

SOURCE = "reporting"
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


class OutcomeProjector:
    def __init__(self, store: ReportingStore) -> None:
        self._store = store

    async def apply(self, payload: Contract) -> list[Publication]:
        if isinstance(payload, BatchRecordsDecided):
            await self._store.record_chunk(payload)
            return []
        if not isinstance(payload, BatchCompleted | BatchFailed):
            return []
        fact = fact_of(payload)
        new = await self._store.record_fact(fact)
        _log.info("batch_fact_recorded", batch_id=str(fact.batch_id), ao_id=fact.ao_id, period=fact.period, new=new)
        # Published even when not new: the previous run may have stopped between the insert and the send.
        [(submissions, timeliness)] = await self._store.aggregates(fact.period, fact.ao_id)
        key = aggregate_key(fact.ao_id, fact.period)
        return [
            publication_of(REPORTING_SUBMISSIONS.name, submissions, key),
            publication_of(REPORTING_TIMELINESS.name, timeliness, key),
        ]
