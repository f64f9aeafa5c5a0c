"""What a provider, and a learner, can learn from the PLR read on real Kafka and PostgreSQL: nothing of an erased
learner (410 for the linked provider), and nothing of a batch that put no event on the PLR read (decision 0003)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from tests.support.projector import (
    LEARNERS,
    T0,
    App,
    Events,
    linked,
    merged,
    project,
    record,
    registered,
    sharing,
    uln_for,
)

from lrs_contracts.learner import AbilityToShare, LearnerErased

pytestmark = pytest.mark.integration

PROVIDER = "provider:10004567"
OPERATOR = "operator:dpo-tests"


def _uln(number: int) -> str:
    return uln_for(number + uuid.uuid4().int % 1_000_000)


async def _plr(app: App, principal: str, uln: str, **params: Any) -> httpx.Response:
    return await app.get(principal, f"/v1/learners/{uln}/plr", **params)


async def test_a_linked_provider_reads_no_plr_of_an_erased_learner_under_any_of_their_ulns(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    master, old = _uln(1), _uln(2)
    events = Events()
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(master), master, topic=LEARNERS),
            record(registered(old), old, topic=LEARNERS),
            record(linked(old, PROVIDER), old, topic=LEARNERS, sequence=1),
            record(merged(master, old), master, topic=LEARNERS, sequence=2),
            record(events.recorded(master), master, sequence=3),
        ],
    )
    before = await _plr(app, PROVIDER, master)
    assert before.status_code == 200, before.text
    assert len(before.json()["learning_events"]) == 1

    # validation erases each of the person's ULNs; one erased is enough for the whole learner
    erasure = LearnerErased(uln=old, erasure_id=uuid.uuid4(), erased_by=OPERATOR, erased_at=T0)
    await project(app, kafka_bootstrap, prefix, [record(erasure, old, topic=LEARNERS, sequence=4)])

    for uln in (master, old):
        for params in ({}, {"after_batch": str(uuid.uuid4()), "wait_ms": 20_000}):  # refused before any wait
            gone = await _plr(app, PROVIDER, uln, **params)
            assert gone.status_code == 410, gone.text
            assert gone.headers["content-type"].startswith("application/problem+json")
            assert (gone.json()["code"], gone.json()["title"]) == ("LEARNER_ERASED", "Learner erased")
            assert gone.json()["detail"] == "This ULN's learner was erased: no provider reads a PLR of theirs any more."
    # an unlinked provider is told what it was told before: it learns nothing of the erasure
    unlinked = await _plr(app, "provider:10007002", master)
    assert (unlinked.status_code, unlinked.json()["code"]) == (403, "PROVIDER_NOT_LINKED")
    # the learner, operators and the AO read as before (decision 0012)
    for principal in (f"learner:{master}", OPERATOR, f"ao:{events.ao_id}"):
        read = await _plr(app, principal, old)
        assert read.status_code == 200, read.text
        assert len(read.json()["learning_events"]) == 1


async def test_an_erased_learners_provider_is_told_410_whatever_the_learner_chose(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    """Refusing to share after the erasure is not possible (validation answers 410): the PLR read says so itself."""
    app, prefix = projector
    uln = _uln(3)
    erasure = LearnerErased(uln=uln, erasure_id=uuid.uuid4(), erased_by=OPERATOR, erased_at=T0)
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(uln), uln, topic=LEARNERS),
            record(linked(uln, PROVIDER), uln, topic=LEARNERS, sequence=1),
            record(sharing(uln, AbilityToShare.UNABLE_TO_SHARE), uln, topic=LEARNERS, sequence=2),
            record(erasure, uln, topic=LEARNERS, sequence=3),
        ],
    )
    gone = await _plr(app, PROVIDER, uln)
    assert (gone.status_code, gone.json()["code"]) == (410, "LEARNER_ERASED"), gone.text


async def test_a_batch_with_no_event_on_the_plr_read_answers_a_learner_or_provider_as_an_unknown_one_does(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    reader, other = _uln(4), _uln(5)
    events = Events(ao_id="RN9093")  # another AO's batch, about another learner only
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(reader), reader, topic=LEARNERS),
            record(linked(reader, PROVIDER), reader, topic=LEARNERS, sequence=1),
            record(registered(other), other, topic=LEARNERS),
            record(events.recorded(other), other, sequence=2),
        ],
    )

    def answer(response: httpx.Response) -> tuple[int, str, str, bool]:
        body = response.json()
        return response.status_code, body.get("code"), body.get("detail"), "retry-after" in response.headers

    for principal in (PROVIDER, f"learner:{reader}"):
        elsewhere = await _plr(app, principal, reader, after_batch=str(events.batch_id), wait_ms=300)
        unknown = await _plr(app, principal, reader, after_batch=str(uuid.uuid4()), wait_ms=300)
        assert answer(elsewhere) == answer(unknown), elsewhere.text
        assert answer(unknown)[:2] == (503, "PROJECTION_PENDING")

    # the batch's own learner still reads their writes, and the operator any batch
    own = await _plr(app, f"learner:{other}", other, after_batch=str(events.batch_id), wait_ms=20_000)
    assert own.status_code == 200, own.text
    assert own.json()["consistency"]["batch_events_applied"] == 1
    operator = await _plr(app, OPERATOR, reader, after_batch=str(events.batch_id), wait_ms=20_000)
    assert operator.status_code == 200, operator.text
    assert operator.json()["consistency"]["batch_events_applied"] == 0
