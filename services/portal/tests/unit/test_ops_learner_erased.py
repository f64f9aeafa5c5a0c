"""The operator's learner page of an erased learner says so, with the day of the erasure when the operator's duties
reach validation's audit, in place of the sharing line: it said "Sharing with learning providers: yes" while
providers were refused (410) and every AO's new record for the ULN rejected RV004 (incident walk, finding 3)."""

from __future__ import annotations

import re

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

from .test_ops_learners_and_challenges import DESK, DOCUMENT, ULN, looked_up, with_the_learner

ERASED = {**DOCUMENT, "erased": True, "events_held_in_dead_letters": 0}
ERASURE = {
    "uln": ULN,
    "erased_with": [],
    "erased": True,
    "erasure": {
        "erasure_id": "0e0e0e0e-0000-4000-8000-000000000001",
        "uln": ULN,
        "erased_by": "operator:desk",
        "erased_at": "2026-07-06T23:30:00Z",  # BST: 7 July in the UK
        "reason": "walk",
    },
}
ERASURE_ROUTE = f"validation/v1/admin/learners/{ULN}/erasure"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def _said(page: httpx.Response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page.text))


def test_an_erased_learner_is_said_erased_on_the_uk_day_instead_of_sharing(portal: StubbedPortal) -> None:
    with_the_learner(portal, ERASED)
    portal.on("GET", ERASURE_ROUTE, lambda _: httpx.Response(200, json=ERASURE))

    page = looked_up(portal, DESK | {"erasure"})

    assert page.status_code == 200, page.text
    said = _said(page)
    assert "Erased on 7 July 2026: no achievement can be recorded for this ULN, and providers are refused." in said
    assert "data-erased" in page.text
    assert "Sharing with learning providers" not in said


def test_an_operator_without_the_erasure_duty_is_told_without_the_day_and_validation_is_not_asked(
    portal: StubbedPortal,
) -> None:
    with_the_learner(portal, ERASED)
    asked: list[httpx.Request] = []

    def refused(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(403)

    portal.on("GET", ERASURE_ROUTE, refused)

    page = looked_up(portal, DESK)

    said = _said(page)
    assert "Erased: no achievement can be recorded for this ULN, and providers are refused." in said
    assert "Sharing with learning providers" not in said
    assert asked == []


def test_validation_away_leaves_the_day_out(portal: StubbedPortal) -> None:
    with_the_learner(portal, ERASED)
    portal.on("GET", ERASURE_ROUTE, lambda _: httpx.Response(503, json={"title": "Service unavailable"}))

    page = looked_up(portal, DESK | {"erasure"})

    assert page.status_code == 200, page.text
    assert "Erased (when: see Erasures): no achievement can be recorded" in _said(page)


def test_a_learner_not_erased_keeps_the_sharing_line(portal: StubbedPortal) -> None:
    with_the_learner(portal, {**DOCUMENT, "erased": False})

    page = looked_up(portal, DESK)

    assert "Sharing with learning providers: yes." in _said(page)
    assert "data-erased" not in page.text
