"""A part of a batch validation decided before, read again (a copy sent again, or a seek back past it), is
nothing to decide: it is not parked as a batch missing its header, and no `abandoned` goes out for a batch
its AO was told is completed."""

from __future__ import annotations

import uuid

import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import register, submit_and_wait
from tests.integration.test_validation_erasure import AQA, GCSE_A_TO_G, _raw_messages
from tests.support.kafka import send
from tests.support.learners import json_batch, json_record, new_learner

from lrs_contracts.batch import BatchSubmissionCompleted
from lrs_contracts.environments import LIVE_TOPICS
from lrs_contracts.outcomes import BatchAbandoned
from lrs_contracts.registry import decode, encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, BATCH_SUBMITTED

pytestmark = pytest.mark.integration


async def test_the_end_marker_of_a_decided_batch_sent_again_changes_nothing(system: SystemUnderTest) -> None:
    learners = [new_learner() for _ in range(3)]
    await register(system, learners)
    first = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(learners[0], GCSE_A_TO_G, "C")]))
    assert first["status"] == "completed"
    batch_id = uuid.UUID(first["batch_id"])

    marker = BatchSubmissionCompleted(batch_id=batch_id, ao_id=AQA, record_count=1, chunk_count=1)
    envelope = wrap(marker, source="ingest", correlation_id=str(batch_id))
    await send(system.kafka_bootstrap, LIVE_TOPICS.of(BATCH_SUBMITTED), [(AQA.encode(), encode(envelope))])
    # the AO's next batch is read after the copy (one AO, one partition): once it is decided, the copy was read
    later = [json_record(learner, GCSE_A_TO_G, "D") for learner in learners[1:]]
    assert (await submit_and_wait(system, AQA, json_batch(AQA, later)))["status"] == "completed"

    outcomes = [decode(raw)[1] for raw in await _raw_messages(system.kafka_bootstrap, BATCH_OUTCOMES, str(batch_id))]
    assert not [event for event in outcomes if isinstance(event, BatchAbandoned)]
    async with await system.client("ingest", f"ao:{AQA}") as client:
        assert (await client.get(f"/v1/batches/{batch_id}")).json()["status"] == "completed"
    async with await system.client("validation", "operator:decided-parts") as operator:
        parked = (await operator.get("/v1/admin/dlq", params={"key": AQA})).json()["parked"]
    assert not [row for row in parked if str(batch_id) in (row["error"] or "")]
