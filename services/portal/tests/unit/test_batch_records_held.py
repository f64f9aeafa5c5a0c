"""A completed batch whose learner's stream is held behind a poison in the projector's dead letters is applied for
every other learner: the projector confirms the batch (`after_batch`) and says how many of its events it holds
(`consistency.batch_events_held`). The batch page then does not say all its accepted records are on learners'
records: it says how many are held back by a fault an operator is fixing, and that the others are on them."""

from __future__ import annotations

import httpx
import pytest
from services.portal.tests.unit.test_batch_on_learners_records import (
    ACHIEVEMENTS,
    BATCH_ID,
    COMPLETED,
    ON_RECORDS,
    PLR,
    _portal,
    _said,
)

from portal.accounts import Role

HELD_BACK = "held back by a fault an operator is fixing"


def _confirmed(held: int | None) -> httpx.Response:
    consistency = {"after_batch": str(BATCH_ID), "waited_ms": 3.0, "batch_events_applied": 0}
    if held is not None:
        consistency["batch_events_held"] = held
    return httpx.Response(200, json={**PLR, "consistency": consistency})


def _of(accepted: int) -> dict[str, object]:
    return {**COMPLETED, "counts": {**COMPLETED["counts"], "total": accepted, "accepted": accepted}}


@pytest.mark.parametrize(
    ("held", "said"), [(1, "1 of the batch's accepted records is"), (2, "2 of the batch's accepted records are")]
)
def test_a_batch_some_of_whose_records_are_held_says_how_many_and_that_the_others_are_on_records(
    held: int, said: str
) -> None:
    stub = _portal(_confirmed(held), _of(3))
    client, _ = stub.signed_in(Role.AO)

    page = client.get(f"/batches/{BATCH_ID}").text

    paragraph = _said(page)
    assert 'data-on-records="held"' in paragraph
    assert f"{said} {HELD_BACK}; the others are on learners' records" in paragraph
    assert ON_RECORDS not in page  # not all of them are
    assert "dead letters" not in paragraph  # an AO's words: the fault is the operators' to fix
    assert f'href="/batches/{BATCH_ID}">Look again</a>' in paragraph
    assert f'href="/learners?after_batch={BATCH_ID}"' in paragraph
    (asked,) = stub.sent_to("GET", ACHIEVEMENTS)
    assert asked.url.params["after_batch"] == str(BATCH_ID)


@pytest.mark.parametrize("held", [0, None])
def test_a_batch_with_nothing_held_is_on_learners_records(held: int | None) -> None:
    """None: a projector from before the count, which says nothing of what it holds."""
    stub = _portal(_confirmed(held), _of(3))
    client, _ = stub.signed_in(Role.AO)

    paragraph = _said(client.get(f"/batches/{BATCH_ID}").text)

    assert 'data-on-records="yes"' in paragraph and ON_RECORDS in paragraph and HELD_BACK not in paragraph


def test_a_batch_held_for_as_many_records_as_it_accepted_says_none_is_on_records_yet() -> None:
    stub = _portal(_confirmed(1), _of(1))
    client, _ = stub.signed_in(Role.AO)

    paragraph = _said(client.get(f"/batches/{BATCH_ID}").text)

    assert f"The batch's accepted records are {HELD_BACK}: they are not on learners' records yet" in paragraph
    assert "the others" not in paragraph


def test_an_operator_reading_the_batch_is_told_where_they_are_held() -> None:
    stub = _portal(_confirmed(1), _of(3))
    client, _ = stub.signed_in(Role.OPERATOR, frozenset({"support"}))

    paragraph = _said(client.get(f"/ops/batches/{BATCH_ID}").text)

    assert 'data-on-records="held"' in paragraph
    assert f"1 of the batch's accepted records is {HELD_BACK} (in the PLR projector's dead letters)" in paragraph
    (asked,) = stub.sent_to("GET", ACHIEVEMENTS)
    assert asked.url.params["ao_id"] == "RN9093"
