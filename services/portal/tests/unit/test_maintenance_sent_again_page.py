"""The maintenance forms sent again (report idempotency, finding 2): a pause, resume or cancel already made answers
ingest's 409; the page reads the schedule again and, when it is what was asked, says so and by whom, when, as what
was done; a pause on with another reason is still refused (AOs read its reason), said with who paused and when; and a
refused page's banner is read after ingest was asked, not as the form arrived."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from markupsafe import escape
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, problem, stubbed_portal
from services.portal.tests.unit.test_maintenance_page import (
    HISTORY,
    PAUSE,
    PAUSE_ON,
    SCHEDULE,
    error_summary,
    ingest_with,
)

from portal.accounts import Role
from portal.web.common import uk_time

PAUSED = {"reason": "broker incident", "until": None, "paused": True, "message": "."}


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_a_pause_with_another_reason_is_refused_saying_who_paused_when_and_why(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    ingest_with(portal, windows=[], paused=True, active=PAUSED)
    portal.on("POST", PAUSE, lambda _: problem(409, "the LRS is paused already, by operator:nia at …"))

    answer = client.post("/ops/maintenance/pause", data=form(operator, pause_reason="disk full"))

    assert answer.status_code == 409
    refusal = answer.text.split("data-refusal>", 1)[1].split("</p>", 1)[0]
    assert refusal == escape(
        f"Deciding batches is paused already: operator:nia paused deciding batches at"
        f" {uk_time(str(PAUSE_ON['paused_at']))} (UK time), with another reason: broker incident. Nothing was changed: AOs"
        " read that reason. To give yours, resume deciding batches, then pause again."
    )
    assert "resume it first" not in answer.text


def test_a_refusal_the_history_cannot_explain_is_shown_with_its_times_in_uk_time(portal: StubbedPortal) -> None:
    """A pause refused while the history read again names none on (it was resumed meanwhile): ingest's own words."""
    client, operator = portal.signed_in(Role.OPERATOR)
    ingest_with(portal, windows=[])
    detail = "the LRS is paused already, by operator:nia at 2027-05-03T08:15:00Z, with the reason: x"
    portal.on("POST", PAUSE, lambda _: problem(409, detail))

    answer = client.post("/ops/maintenance/pause", data=form(operator, pause_reason="broker incident"))

    assert answer.status_code == 409
    assert f"operator:nia at {uk_time('2027-05-03T08:15:00Z')} (UK time)" in error_summary(answer.text)


def test_the_banner_of_a_refused_page_is_read_after_ingest_was_asked(portal: StubbedPortal) -> None:
    """The banner was read as the form arrived: a pause made meanwhile showed under a banner without it."""
    client, operator = portal.signed_in(Role.OPERATOR)
    ingest_with(portal, windows=[], paused=True, active=PAUSED)
    paused_now = {
        "active": PAUSED,
        "windows": [],
        "pause": {"since": PAUSE_ON["paused_at"], "reason": "broker incident"},
    }
    reads: list[int] = []

    def schedule(_: httpx.Request) -> httpx.Response:
        reads.append(1)  # the first read, the banner's as the form arrives: not paused yet
        body: dict[str, Any] = {"active": None, "windows": [], "pause": None} if len(reads) == 1 else paused_now
        return httpx.Response(200, json=body)

    portal.on("GET", SCHEDULE, schedule)
    portal.on("POST", PAUSE, lambda _: problem(409, "the LRS is paused already, by operator:nia at …"))

    answer = client.post("/ops/maintenance/pause", data=form(operator, pause_reason="disk full"))

    assert answer.status_code == 409
    banner = answer.text.split("</header>", 1)[-1].split("data-refusal", 1)[0]
    assert "broker incident" in banner  # the pause made meanwhile, in the banner above the refusal
    assert portal.sent_to("GET", HISTORY)


def test_a_refusal_that_is_no_conflict_is_never_said_as_done_already(portal: StubbedPortal) -> None:
    """Only ingest's 409 means "sent again": another refusal of a pause (a 422) is shown as the refusal, not as
    "Already paused", even while a pause with that very reason is on."""
    client, operator = portal.signed_in(Role.OPERATOR)
    ingest_with(portal, windows=[], paused=True, active=PAUSED)
    portal.on("POST", PAUSE, lambda _: problem(422, "body.reason: the reason is not one line"))

    answer = client.post("/ops/maintenance/pause", data=form(operator, pause_reason="broker incident"))

    assert answer.status_code == 409
    assert "the reason is not one line" in answer.text
    assert "Already paused" not in answer.text


def test_a_refused_pause_is_never_said_as_a_pause_with_another_reason(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    ingest_with(portal, windows=[], paused=True, active=PAUSED)
    portal.on("POST", PAUSE, lambda _: problem(422, "body.reason: the reason is not one line"))

    answer = client.post("/ops/maintenance/pause", data=form(operator, pause_reason="disk full"))

    assert answer.status_code == 409
    assert "the reason is not one line" in answer.text
    assert "with another reason" not in answer.text
