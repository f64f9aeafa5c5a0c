"""The maintenance page says what still holds the batches after Resume or End now, rather than that they are decided
(windows report, finding 1): a pause during a window, or a window under way while paused, held them on while the page
said "the queued batches are decided". The resume form's ", once the window under way ends" could never show. The
End-now confirmation says how to extend a window instead (finding 6), and ingest's refusal of a chain of windows is
said in UK time, as every time on the page is, not in UTC instants (finding 10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from markupsafe import escape
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, problem, stubbed_portal
from services.portal.tests.unit.test_maintenance_page import (
    PAUSE_ON,
    PAUSE_OVER,
    RESUME,
    UNDER_WAY,
    WINDOW_UNDER_WAY,
    WINDOWS,
    ingest_with,
    quiet_ingest,
    window,
    window_form,
    window_record,
)

from portal.accounts import Role
from portal.web.common import uk_time
from portal.web.maintenance_pages import DONE, uk_times_in

OTHER = "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a"
NOW = datetime.now(UTC)
# another window under way, and one touching its end: they hold as one, until the second ends
OTHER_UNDER_WAY = window(OTHER, NOW - timedelta(minutes=30), NOW + timedelta(hours=2), "kafka upgrade")
TOUCHING = window(
    "7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3928", NOW + timedelta(hours=2), NOW + timedelta(hours=3), "kafka upgrade 2"
)
WINDOW_HELD = {"reason": "kafka upgrade", "until": TOUCHING["ends_at"], "paused": False, "message": "..."}
PAUSE_HELD = {"reason": "broker incident", "until": None, "paused": True, "message": "..."}


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def done_banner(html: str) -> str:
    return " ".join(html.split("data-done>", 1)[1].split("</p>", 1)[0].split())


def end_now(portal: StubbedPortal, window_id: str = UNDER_WAY) -> str:
    """End the window under way `window_id` (ingest answers it cancelled now); the page the browser is sent to."""
    client, operator = portal.signed_in(Role.OPERATOR)
    record = window_record({**WINDOW_UNDER_WAY, "window_id": window_id}, "operator:olu", "operator:nia", NOW)
    answer = httpx.Response(200, json={"window": record, "published": True})
    portal.on("DELETE", f"{WINDOWS}/{window_id}", lambda _: answer)
    sent = client.post(f"/ops/maintenance/windows/{window_id}/cancel", data=form(operator))
    assert (sent.status_code, sent.headers["location"]) == (303, "/ops/maintenance")
    page: str = client.get("/ops/maintenance").text
    return page


def resume(portal: StubbedPortal, pause: dict[str, Any] = PAUSE_OVER) -> str:
    client, operator = portal.signed_in(Role.OPERATOR)
    portal.on("POST", RESUME, lambda _: httpx.Response(200, json={"pause": pause, "published": True}))
    sent = client.post("/ops/maintenance/resume", data=form(operator))
    assert (sent.status_code, sent.headers["location"]) == (303, "/ops/maintenance")
    page: str = client.get("/ops/maintenance").text
    return page


def test_a_resume_while_a_window_is_under_way_says_the_window_holds_the_batches_until_it_ends(
    portal: StubbedPortal,
) -> None:
    ingest_with(portal, windows=[OTHER_UNDER_WAY, TOUCHING], active=WINDOW_HELD)

    page = resume(portal)

    assert done_banner(page) == (
        "Deciding batches has resumed. The maintenance window under way (kafka upgrade) still holds the batches: they"
        f" are decided, in each AO&#39;s order, after {uk_time(TOUCHING['ends_at'])} (UK time)."
    )
    assert "<title>Deciding batches has resumed \u2013 Maintenance" in page


def test_ending_a_window_while_paused_says_the_pause_holds_the_batches(portal: StubbedPortal) -> None:
    ingest_with(portal, windows=[], paused=True, active=PAUSE_HELD)

    page = end_now(portal)

    assert done_banner(page) == (
        "The maintenance window has ended. The pause (broker incident) still holds the batches: they are decided, in"
        " each AO&#39;s order, once you resume deciding batches."
    )
    assert "<title>The maintenance window has ended \u2013 Maintenance" in page


def test_ending_one_window_while_another_is_under_way_says_the_other_holds_the_batches(portal: StubbedPortal) -> None:
    ingest_with(portal, windows=[OTHER_UNDER_WAY, TOUCHING], active=WINDOW_HELD)

    page = end_now(portal)

    assert done_banner(page).startswith(
        "The maintenance window has ended. The maintenance window under way (kafka upgrade) still holds the batches"
    )


@pytest.mark.parametrize("change", ["ended", "resumed"])
def test_with_nothing_else_holding_the_batches_are_said_to_be_decided(portal: StubbedPortal, change: str) -> None:
    quiet_ingest(portal)

    page = end_now(portal) if change == "ended" else resume(portal)

    assert done_banner(page) == str(escape(DONE[change]))


def test_the_change_just_made_is_not_taken_for_what_still_holds(portal: StubbedPortal) -> None:
    """Another ingest instance may answer from the schedule it read a moment before the change."""
    ingest_with(portal, windows=[WINDOW_UNDER_WAY], active={**WINDOW_HELD, "reason": "database upgrade"})
    assert done_banner(end_now(portal)) == str(escape(DONE["ended"]))

    portal = stubbed_portal()
    ingest_with(portal, windows=[], paused=True, active=PAUSE_HELD)
    resumed = {**PAUSE_ON, "resumed_by": "operator:nia", "resumed_at": NOW.isoformat()}
    assert done_banner(resume(portal, resumed)) == str(escape(DONE["resumed"]))


def test_the_resume_form_says_a_window_under_way_holds_the_batches_until_it_ends(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    ingest_with(portal, windows=[OTHER_UNDER_WAY], paused=True, active=PAUSE_HELD)
    with_window = client.get("/ops/maintenance").text

    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.OPERATOR)
    ingest_with(portal, windows=[], paused=True, active=PAUSE_HELD)
    without = client.get("/ops/maintenance").text

    assert "the queued batches are decided in each AO's order, once the window under way ends." in with_window
    assert "the queued batches are decided in each AO's order." in without
    assert "once the window under way ends" not in without


def test_the_end_now_confirmation_says_how_to_extend_a_window_instead(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    ingest_with(portal, windows=[WINDOW_UNDER_WAY, TOUCHING], active=WINDOW_HELD)

    under_way = client.get(f"/ops/maintenance/windows/{UNDER_WAY}/cancel").text
    to_come = client.get(f"/ops/maintenance/windows/{TOUCHING['window_id']}/cancel").text

    hint = " ".join(under_way.split("data-extend>", 1)[1].split("</p>", 1)[0].split())
    assert hint == (
        'To extend a window under way, <a class="govuk-link" href="/ops/maintenance#starts_date">schedule another</a>'
        " that starts at or before its end: they hold as one (within 48 hours). Ending it and scheduling again lets"
        " held batches through in between."
    )
    assert "data-extend" not in to_come


def test_the_instants_of_ingests_refusal_are_said_in_uk_time() -> None:
    assert uk_times_in("from 2027-03-27T01:00:00Z to 2027-03-29T01:30:00Z, more than 48 hours") == (
        "from 27 Mar 2027, 01:00 (UK time) to 29 Mar 2027, 02:30 (UK time), more than 48 hours"
    )
    assert uk_times_in("at 2027-06-01T21:00:00.250000+00:00 and 2027-06-01T22:00+01:00.") == (
        "at 1 Jun 2027, 22:00 (UK time) and 1 Jun 2027, 22:00 (UK time)."
    )
    assert (
        uk_times_in("window 5d3f1a2b held 48 hours from 2027-06-01") == "window 5d3f1a2b held 48 hours from 2027-06-01"
    )


def test_a_chain_of_windows_ingest_refuses_is_said_in_uk_time_on_the_page(portal: StubbedPortal) -> None:
    """The operator typed an end of 02:30 (BST) and was told 01:30: the hold's start and end in UTC."""
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)
    detail = (
        "with the windows it overlaps or touches, batches would be held from 2027-03-27T01:00:00Z to"
        " 2027-03-29T01:30:00Z, more than 48 hours in one go: the batches wait on a topic kept for 7 days"
    )
    portal.on("POST", WINDOWS, lambda _: problem(422, detail, title="Invalid maintenance window"))

    answer = client.post("/ops/maintenance/windows", data=form(operator, **window_form()))

    assert answer.status_code == 400
    assert (
        '<p class="govuk-body" data-refusal>with the windows it overlaps or touches, batches would be held from'
        " 27 Mar 2027, 01:00 (UK time) to 29 Mar 2027, 02:30 (UK time), more than 48 hours in one go"
    ) in answer.text
    assert "T01:30:00Z" not in answer.text
