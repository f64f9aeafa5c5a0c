"""A PLR read on real Kafka and PostgreSQL says how many withdrawn achievements it leaves out (`withdrawn_not_shown`)
to the learner, an AO (of its own) and operators; a linked provider, which may not ask for them, is told nothing of
them; and a read under a ULN merged into another names the master ULN the record is now under."""

from __future__ import annotations

import uuid

import pytest
from tests.support.projector import LEARNERS, App, Events, linked, merged, project, record, registered, uln_for

pytestmark = pytest.mark.integration

PROVIDER = "provider:10004567"


def _uln(number: int) -> str:
    return uln_for(number + uuid.uuid4().int % 1_000_000)


async def test_withdrawn_achievements_left_out_are_counted_for_all_but_providers(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    master, old = _uln(1), _uln(2)
    ours, theirs = Events(), Events(ao_id="RN9093")
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(master), master, topic=LEARNERS),
            record(registered(old), old, topic=LEARNERS),
            record(linked(master, PROVIDER), master, topic=LEARNERS, sequence=1),
            record(merged(master, old), master, topic=LEARNERS, sequence=2),
            record(ours.recorded(master), master, sequence=3),
            record(ours.recorded(old, qan="60012345"), old, sequence=4),
            record(theirs.recorded(master, qan="60054321"), master, sequence=5),
            record(ours.withdrawn(old, qan="60012345"), old, sequence=6),
            record(theirs.withdrawn(master, qan="60054321"), master, sequence=7),
        ],
    )

    async def left_out(principal: str, uln: str = master, **params: str) -> object:
        answer = await app.get(principal, f"/v1/learners/{uln}/plr", **params)
        assert answer.status_code == 200, answer.text
        return answer.json()["withdrawn_not_shown"]

    assert await left_out(f"learner:{old}") == 2
    assert await left_out(f"learner:{old}", include_withdrawn="true") == 0
    assert await left_out("operator:support-tests") == 2
    assert await left_out(f"ao:{ours.ao_id}") == 1
    assert await left_out(PROVIDER) is None

    under_old = await app.get(f"learner:{old}", f"/v1/learners/{old}/plr")
    assert (under_old.json()["uln"], under_old.json()["master_uln"]) == (old, master)
