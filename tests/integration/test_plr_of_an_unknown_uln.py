"""The PLR of a well-formed ULN nobody registered: an operator reads an empty record, and no sharing choice is
invented for it (the projector's default is no learner's state); learners and providers are told none is held."""

from __future__ import annotations

import uuid

import pytest
from tests.support.projector import App, uln_for

pytestmark = pytest.mark.integration

OPERATOR = "operator:unknown-uln"


async def test_an_operator_reads_no_sharing_choice_for_a_uln_never_registered(projector: tuple[App, str]) -> None:
    app, _prefix = projector
    uln = uln_for(uuid.uuid4().int % 10_000_000)

    read = await app.get(OPERATOR, f"/v1/learners/{uln}/plr")

    assert read.status_code == 200, read.text
    assert (read.json()["ability_to_share"], read.json()["learning_events"]) == (None, [])
    learner = await app.get(f"learner:{uln}", f"/v1/learners/{uln}/plr")
    assert (learner.status_code, learner.json()["code"]) == (404, "LEARNER_NOT_FOUND")
