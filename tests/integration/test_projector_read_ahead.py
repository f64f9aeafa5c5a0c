"""A projector behind the log reads its next poll while the last one is written: row for row what it
projects one poll at a time, parked events included."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from tests.support.databases import create_database, unique_name
from tests.support.projector import (
    PLR,
    Events,
    Record,
    create_topics,
    dump_model,
    ends_of,
    envelope_bytes,
    new_prefix,
    produce,
    record,
    running_projector,
    stored_offsets,
    uln_for,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def _without_grade(valid: bytes) -> bytes:
    document = json.loads(valid)
    del document["data"]["data"]["grade"]
    return json.dumps(document).encode()


async def _projected(
    database_url: str, kafka: str, prefix: str, ends: dict[tuple[str, int], int], **settings: int
) -> dict[str, list[tuple[Any, ...]]]:
    async with running_projector(database_url, kafka, prefix, **settings):

        async def caught_up() -> bool:
            stored = await stored_offsets(database_url)
            return all(stored.get(key, 0) >= end for key, end in ends.items())

        await eventually(caught_up, within=60, what="projection of the backlog")
    return await dump_model(database_url)


async def test_reading_ahead_projects_a_backlog_as_one_poll_at_a_time_would(
    kafka_bootstrap: str, database_url: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    suffix = uuid.uuid4().int % 1_000_000
    poisoned, others = uln_for(suffix), [uln_for(suffix + 1 + number) for number in range(6)]
    events = Events()
    # One partition, so every poll is full: the poisoned learner's later events come in later polls,
    # read ahead before the poll that parks the poison was written.
    records: list[Record] = [record(events.recorded(poisoned, grade="6"), poisoned, sequence=1, partition=0)]
    records.append(Record(PLR, poisoned, _without_grade(envelope_bytes(events.updated(poisoned, "8"), sequence=2)), 0))
    for number, uln in enumerate(others):
        records.append(record(events.recorded(uln, grade="5"), uln, sequence=10 + number, partition=0))
        records.append(record(events.withdrawn(poisoned), poisoned, sequence=20 + number, partition=0))
        records.append(record(events.updated(uln, grade="7"), uln, sequence=30 + number, partition=0))
        records.append(record(events.reinstated(poisoned), poisoned, sequence=40 + number, partition=0))
    ends = ends_of(await produce(kafka_bootstrap, prefix, records))

    read_ahead = await _projected(
        await create_database(database_url, unique_name("ahead")), kafka_bootstrap, prefix, ends, max_batch_records=3
    )
    one_poll = await _projected(
        await create_database(database_url, unique_name("whole")), kafka_bootstrap, prefix, ends, max_batch_records=1000
    )

    assert read_ahead == one_poll
    parked = [(row[2], row[4]) for row in read_ahead["parked"]]
    assert parked[0] == (1, "error")
    assert {reason for _, reason in parked[1:]} == {"blocked"}
    assert len(parked) == 1 + 2 * len(others)
    assert len(read_ahead["achievements"]) == 1 + len(others)
