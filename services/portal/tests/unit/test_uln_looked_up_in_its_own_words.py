"""A ULN typed into a look-up (the learners page, and the direct-entry form's "Fill in the recorded achievement") that
no learner can have is answered in a look-up's words (`why_no_learner_has`, as the PLR projector answers it): never a
batch record's ("cannot be uploaded", "check the ULN with the centre or learner"), and never with the ULN the person
just typed masked back at them."""

from __future__ import annotations

import html

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_learner_update_link import _entry_form

from lrs_domain.rules import why_no_learner_has
from portal.accounts import Role

MISTYPED = ["1000000042", "1000000063", "9999999999"]  # a wrong check digit twice (remainder 0), the temporary ULN


def error_summary(page: str) -> str:
    assert 'class="govuk-error-summary"' in page
    return html.unescape(page.split('class="govuk-error-summary"', 1)[1].split("</ul>", 1)[0])


def said_as_a_look_up(summary: str, uln: str) -> None:
    refusal = why_no_learner_has(uln)
    assert refusal is not None
    assert f'href="#uln">{refusal.reason}<' in summary
    assert "******" not in summary  # the ULN just typed is the person's own to see
    assert "uploaded" not in summary and "centre or learner" not in summary  # a batch record's words


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


@pytest.mark.parametrize("uln", MISTYPED)
def test_the_learners_page_says_why_no_learner_has_the_uln(portal: StubbedPortal, uln: str) -> None:
    client, person = portal.signed_in(Role.AO)

    answer = client.post("/learners", data=form(person, uln=uln))

    assert answer.status_code == 400
    said_as_a_look_up(error_summary(answer.text), uln)
    assert not portal.sent_to("GET", "plr-projector/v1/ao/achievements")


@pytest.mark.parametrize("uln", MISTYPED)
def test_filling_in_the_recorded_achievement_says_why_no_learner_has_the_uln(portal: StubbedPortal, uln: str) -> None:
    client, person = portal.signed_in(Role.AO)

    answer = client.post("/direct-entry/recorded", data=form(person, **_entry_form(uln=uln)))

    assert answer.status_code == 400
    said_as_a_look_up(error_summary(answer.text), uln)
    assert not portal.sent_to("GET", "plr-projector/v1/ao/achievements")
