"""The operator's learner page says which versions of an achievement an operator's corrected copy of a parked event
made (`corrected_by_operator`, `lrs dlq retry --replacement`): the batch it names did not write what it says."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal
from services.portal.tests.unit.test_ops_learners_and_challenges import (
    ACHIEVEMENT,
    ACHIEVEMENT_ID,
    DOCUMENT,
    FIRST_BATCH,
    SECOND_BATCH,
    looked_up,
    version,
    with_the_learner,
)


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_a_version_made_from_an_operators_corrected_copy_says_so(portal: StubbedPortal) -> None:
    corrected = version(2, "updated", "B", "F", SECOND_BATCH, "2026-12-07T03:10:00Z") | {"corrected_by_operator": True}
    as_sent = version(1, "recorded", "C", "P", FIRST_BATCH, "2026-12-07T02:42:00Z") | {"corrected_by_operator": False}
    with_the_learner(portal, DOCUMENT | {"learning_events": [ACHIEVEMENT | {"history": [as_sent, corrected]}]})

    page = looked_up(portal).text

    achievement = page.split(f'data-achievement="{ACHIEVEMENT_ID}"', 1)[1]
    first, second = achievement.split('data-version="1"', 1)[1].split('data-version="2"', 1)
    second = second.split("</tr>", 1)[0]
    assert "</a>, line 5<span data-corrected-by-operator>, corrected by an operator</span></td>" in second
    assert "corrected by an operator" not in first and "</a>, line 4</td>" in first


def test_a_version_without_the_mark_is_the_batchs_own(portal: StubbedPortal) -> None:
    with_the_learner(portal)  # a projector from before the mark sends none

    page = looked_up(portal).text

    assert "corrected by an operator" not in page and "data-corrected-by-operator" not in page
