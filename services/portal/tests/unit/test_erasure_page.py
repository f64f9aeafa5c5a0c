"""Erasing a learner (decision 0080) asks for confirmation only of a ULN that may be a learner's: its format and
check digit are judged on the first step (lrs_domain.identifiers), the error shown there (decision 0145)."""

from __future__ import annotations

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal

from portal.accounts import Role

NO_ERASURES: dict[str, object] = {"erasures": [], "next": None}
CONFIRM = "Yes, erase this learner"


@pytest.fixture
def portal() -> StubbedPortal:
    portal = stubbed_portal()
    portal.on("GET", "validation/v1/admin/erasures", lambda _: httpx.Response(200, json=NO_ERASURES))
    return portal


@pytest.mark.parametrize(
    ("uln", "error"),
    [
        ("1000000042", "This ULN's check digit is wrong (RV002)"),
        ("1000000063", "This ULN's check digit is wrong (RV002)"),  # remainder 0: no digit completes it
        ("0123456789", "Enter the learner's ULN: 10 digits, the first not 0"),
        ("12345", "Enter the learner's ULN: 10 digits, the first not 0"),
    ],
)
def test_a_uln_no_learner_can_have_is_an_error_on_the_first_step_not_a_confirmation(
    portal: StubbedPortal, uln: str, error: str
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)

    answer = client.post("/ops/erasures/check", data=form(operator, uln=uln, reason="created in error"))

    assert answer.status_code == 400
    assert f'href="#uln">{error}' in answer.text.replace("&#39;", "'")
    assert CONFIRM not in answer.text


def test_a_valid_uln_is_asked_to_be_confirmed(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)

    answer = client.post("/ops/erasures/check", data=form(operator, uln="1000000043", reason="created in error"))

    assert answer.status_code == 200
    assert CONFIRM in answer.text and "data-mistyped" not in answer.text


def test_the_final_step_refuses_a_wrong_check_digit_too_and_asks_validation_nothing(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)

    answer = client.post("/ops/erasures", data=form(operator, uln="1000000042", reason="created in error"))

    assert answer.status_code == 400
    assert not portal.sent_to("POST", "validation/v1/admin/learners/1000000042/erasure")


def test_a_mistyped_uln_an_ao_sent_stays_erasable_once_the_operator_says_so(portal: StubbedPortal) -> None:
    """Decision 0132: what an AO's batch carried under a ULN with a wrong check digit is erasable."""
    client, operator = portal.signed_in(Role.OPERATOR)
    refused = client.post("/ops/erasures/check", data=form(operator, uln="1000000042", reason="batch typo"))
    assert 'name="mistyped" type="checkbox" value="yes"' in refused.text

    confirming = client.post(
        "/ops/erasures/check", data=form(operator, uln="1000000042", reason="batch typo", mistyped="yes")
    )

    assert confirming.status_code == 200 and CONFIRM in confirming.text and "data-mistyped" in confirming.text
    assert '<input type="hidden" name="mistyped" value="yes">' in confirming.text


def test_a_confirmed_mistyped_uln_is_sent_to_validation_which_decides_whether_it_holds_it(
    portal: StubbedPortal,
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    not_held = {
        "title": "Invalid ULN",
        "status": 422,
        "detail": "The LRS holds nothing under this ULN.",
        "code": "RV002",
    }
    portal.on("POST", "validation/v1/admin/learners/1000000042/erasure", lambda _: httpx.Response(422, json=not_held))

    answer = client.post("/ops/erasures", data=form(operator, uln="1000000042", reason="batch typo", mistyped="yes"))

    assert portal.sent_to("POST", "validation/v1/admin/learners/1000000042/erasure")
    assert answer.status_code == 400 and 'href="#uln">The LRS holds nothing under this ULN.' in answer.text
