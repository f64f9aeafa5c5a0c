"""The projector survives an event PostgreSQL refuses to store: parked alone, its learner held, others go on."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from tests.support.projector import (
    PLR,
    App,
    Events,
    Record,
    caught_up,
    ends_of,
    envelope_bytes,
    produce,
    record,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_contracts.dead_letters import DeadLetter

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"


def with_nul_grade(value: bytes) -> bytes:
    """Valid for every model (a grade is any text), refused by PostgreSQL (text holds no NUL)."""
    document = json.loads(value)
    document["data"]["data"]["grade"] = "6\x00"
    return json.dumps(document).encode()


async def test_an_event_postgresql_refuses_is_parked_and_the_rest_of_the_batch_is_projected(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    suffix = uuid.uuid4().int % 1_000_000
    poisoned, healthy = uln_for(suffix), uln_for(suffix + 1)
    events = Events()
    records = [
        Record(PLR, poisoned, with_nul_grade(envelope_bytes(events.recorded(poisoned, grade="6"), sequence=1)), 0),
        record(events.recorded(healthy, grade="5"), healthy, sequence=2, partition=0),
        record(events.withdrawn(poisoned), poisoned, sequence=3, partition=0),
        record(events.updated(healthy, grade="6"), healthy, sequence=4, partition=0),
    ]
    positions = await produce(kafka_bootstrap, prefix, records)
    ends = ends_of(positions)
    await eventually(lambda: caught_up(app.database_url, ends), within=60, what="projection past the poison")

    healthy_view = (await app.get(f"learner:{healthy}", f"/v1/learners/{healthy}/plr")).json()
    assert [event["grade"] for event in healthy_view["learning_events"]] == ["6"]
    parked = (await app.get(OPERATOR, "/v1/admin/dlq", learner=poisoned)).json()["parked"]
    first, withdrawn = positions[0][1], positions[2][1]
    assert [(item["offset"], item["reason"]) for item in parked] == [(first, "error"), (withdrawn, "blocked")]
    assert parked[0]["error"].startswith("CharacterNotInRepertoireError")

    consumer = AIOKafkaConsumer(
        f"{prefix}{PLR}.dlq", bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        found: list[object] = []

        async def dead_lettered() -> list[object]:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                found.extend(batch)
            return found

        [message] = await eventually(dead_lettered, within=30, what="the dead letter")
    finally:
        await consumer.stop()
    letter = DeadLetter.from_headers(message.headers)  # type: ignore[attr-defined]
    assert (letter.consumer, letter.original_topic, letter.original_offset) == ("plr-projector.plr", PLR, first)
    assert letter.error.startswith("CharacterNotInRepertoireError")
