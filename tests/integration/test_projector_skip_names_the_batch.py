"""A skipped event of a PLR batch is tied back to its batch (reconcile walk, finding 1): the record of the skip
(`/v1/admin/dlq/actions`, `lrs dlq history`) names the batch whose event it was, as the parked row named it before;
the batch still counts the record accepted, yet it never reached the learner's record."""

from __future__ import annotations

import json
import uuid

import pytest
from tests.support.projector import PLR, App, Events, Record, caught_up, ends_of, envelope_bytes, produce, uln_for
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"


def _with_nul_grade(value: bytes) -> bytes:
    """Valid for every model, but an event the projection cannot store (text holds no NUL): it is parked."""
    document = json.loads(value)
    document["data"]["data"]["grade"] = "6\x00"
    return json.dumps(document).encode()


async def test_a_skip_of_a_batchs_parked_event_names_the_batch(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    learner = uln_for(uuid.uuid4().int % 1_000_000)
    events = Events()
    poison = _with_nul_grade(envelope_bytes(events.recorded(learner, grade="6"), sequence=1))
    positions = await produce(kafka_bootstrap, prefix, [Record(PLR, learner, poison, 0)])

    async def projected() -> bool:
        return await caught_up(app.database_url, ends_of(positions))

    await eventually(projected, within=30, what="projection")
    [parked] = (await app.get(OPERATOR, "/v1/admin/dlq", learner=learner)).json()["parked"]
    assert parked["batch_id"] == str(events.batch_id)

    skipped = await app.post(OPERATOR, f"/v1/admin/dlq/{learner}/skip", {"reason": "it cannot be stored"})
    assert (skipped.status_code, skipped.json()["results"][0]["skipped"]) == (200, 1), skipped.text

    actions = (await app.get(OPERATOR, "/v1/admin/dlq/actions", limit="1000")).json()["actions"]
    [taken] = [action for action in actions if action["event_id"] == parked["event_id"]]
    assert (taken["action"], taken["offset"], taken["batch_id"]) == ("skip", parked["offset"], str(events.batch_id))
