"""The operators' maintenance page over a stubbed ingest: what it shows of the schedule and the history,
what it sends ingest for each change, and what it refuses before sending anything."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

import httpx
import pytest
from markupsafe import escape
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, problem, stubbed_portal

from portal.accounts import Role
from portal.web.common import UK, uk_time
from portal.web.maintenance_pages import DONE, uk_times_in, window_errors

SCHEDULE = "ingest/v1/maintenance"
HISTORY = "ingest/v1/admin/maintenance"
WINDOWS = "ingest/v1/admin/maintenance/windows"
PAUSE = "ingest/v1/admin/maintenance/pause"
RESUME = "ingest/v1/admin/maintenance/resume"
UNDER_WAY = "5d3f1a2b-0c4e-4f6a-9b8c-7d6e5f4a3b2c"
TO_COME = "0b6f3c1e-8f4a-4d52-9a0e-2f9c6a1d7e3f"
CANCELLED = "9a1c2e3f-4b5d-4e6f-8a7b-1c2d3e4f5a6b"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def window(window_id: str, starts_at: datetime, ends_at: datetime, reason: str) -> dict[str, str]:
    return {
        "window_id": window_id,
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(),
        "reason": reason,
    }


def window_record(
    scheduled: dict[str, str], by: str, cancelled_by: str | None = None, cancelled_at: datetime | None = None
) -> dict[str, Any]:
    return {
        "window": scheduled,
        "scheduled_by": by,
        "scheduled_at": "2027-05-01T09:00:00+00:00",
        "cancelled_by": cancelled_by,
        "cancelled_at": cancelled_at.isoformat() if cancelled_at else None,
    }


NOW = datetime.now(UTC)
WINDOW_UNDER_WAY = window(UNDER_WAY, NOW - timedelta(hours=1), NOW + timedelta(hours=1), "database upgrade")
WINDOW_TO_COME = window(  # far ahead, so that the real clock never reaches it
    TO_COME,
    datetime(2099, 6, 1, 21, 0, tzinfo=UTC),
    datetime(2099, 6, 2, 1, 0, tzinfo=UTC),
    "reference data reload",
)
WINDOW_CANCELLED = window(
    CANCELLED, NOW - timedelta(days=3), NOW - timedelta(days=3) + timedelta(hours=2), "broker upgrade"
)
PAUSE_ON = {
    "pause_id": 2,
    "reason": "broker incident",
    "paused_by": "operator:nia",
    "paused_at": "2027-05-03T08:15:00+00:00",
    "resumed_by": None,
    "resumed_at": None,
}
PAUSE_OVER = {
    "pause_id": 1,
    "reason": "bad reference data load",
    "paused_by": "operator:olu",
    "paused_at": "2027-04-03T08:15:00+00:00",
    "resumed_by": "operator:nia",
    "resumed_at": "2027-04-03T09:45:00+00:00",
}


def ingest_with(
    portal: StubbedPortal, *, windows: list[dict[str, str]], paused: bool = False, active: dict[str, Any] | None = None
) -> None:
    """Ingest's schedule and history: `windows` to come, scheduled by operator:olu; the cancelled window and
    the pause resumed in the history; the pause on if `paused`."""
    pause = {"since": PAUSE_ON["paused_at"], "reason": PAUSE_ON["reason"]} if paused else None
    schedule = {"active": active, "windows": windows, "pause": pause}
    history = {
        "windows": [window_record(scheduled, "operator:olu") for scheduled in windows]
        + [window_record(WINDOW_CANCELLED, "operator:olu", "operator:nia", NOW - timedelta(days=4))],
        "pauses": ([PAUSE_ON] if paused else []) + [PAUSE_OVER],
    }
    portal.on("GET", SCHEDULE, lambda _: httpx.Response(200, json=schedule))
    portal.on("GET", HISTORY, lambda _: httpx.Response(200, json=history))


def quiet_ingest(portal: StubbedPortal) -> None:
    ingest_with(portal, windows=[WINDOW_TO_COME])


def window_changed(record: dict[str, Any], *, published: bool = True) -> httpx.Response:
    return httpx.Response(201, json={"window": record, "published": published})


def error_summary(html: str) -> str:
    return (
        html.split('class="govuk-error-summary"', 1)[1].split("</div></div>", 1)[0]
        if "govuk-error-summary" in html
        else ""
    )


class Days(NamedTuple):
    """A date typed as so many days from the UK's today, worked out when the test runs."""

    from_today: int


def uk_day(days_from_today: int) -> date:
    return datetime.now(UK).date() + timedelta(days=days_from_today)


def window_form(**overrides: str) -> dict[str, str]:
    """A window a month from now, 22:00 to 02:00 UK time."""
    return {
        "starts_date": uk_day(30).isoformat(),
        "starts_time": "22:00",
        "ends_date": uk_day(31).isoformat(),
        "ends_time": "02:00",
        "reason": "database upgrade",
        **overrides,
    }


# --- the page ------------------------------------------------------------------------------------


def test_the_page_shows_what_holds_now_the_windows_to_come_and_the_history(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    active = {"reason": "database upgrade", "until": WINDOW_UNDER_WAY["ends_at"], "paused": False, "message": "..."}
    ingest_with(portal, windows=[WINDOW_UNDER_WAY, WINDOW_TO_COME], active=active)

    page = client.get("/ops/maintenance")

    assert page.status_code == 200
    holding = page.text.split('data-section="holding"', 1)[1].split("</dl>", 1)[0]
    assert 'data-holding="window"' in page.text
    assert "a maintenance window" in holding
    assert "database upgrade" in holding
    assert 'Scheduled by</dt><dd class="govuk-summary-list__value">operator:olu' in holding
    windows = page.text.split('data-table="windows"', 1)[1].split("</table>", 1)[0]
    to_come = windows.split(f'data-window="{TO_COME}"', 1)[1].split("</tr>", 1)[0]
    assert "1 Jun 2099, 22:00" in to_come  # 21:00 UTC is 22:00 in British Summer Time
    assert "2 Jun 2099, 02:00" in to_come
    assert "reference data reload" in to_come and "operator:olu" in to_come
    assert f'href="/ops/maintenance/windows/{TO_COME}/cancel"' in to_come and ">Cancel<" in to_come
    under_way = windows.split(f'data-window="{UNDER_WAY}"', 1)[1].split("</tr>", 1)[0]
    assert "under way" in under_way and ">End now<" in under_way
    history = page.text.split('data-table="window-history"', 1)[1].split("</table>", 1)[0]
    assert "broker upgrade" in history and "by operator:nia" in history
    pauses = page.text.split('data-table="pause-history"', 1)[1].split("</table>", 1)[0]
    assert "bad reference data load" in pauses and "3 Apr 2027, 10:45 by operator:nia" in pauses
    assert 'action="/ops/maintenance/pause"' in page.text
    assert 'action="/ops/maintenance/resume"' not in page.text
    assert (
        '<a class="govuk-service-navigation__link" href="/ops/maintenance" aria-current="page">Maintenance</a>'
        in page.text
    )
    assert page.text.count('aria-current="page"') == 1, "the projector's /ops is not a prefix of every ops page"


def test_a_pause_is_shown_with_who_paused_and_a_resume_button_instead_of_pause(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    active = {"reason": "broker incident", "until": None, "paused": True, "message": "..."}
    ingest_with(portal, windows=[], paused=True, active=active)

    page = client.get("/ops/maintenance")

    holding = page.text.split('data-section="holding"', 1)[1].split("</dl>", 1)[0]
    assert 'data-holding="pause"' in page.text
    assert "an unplanned pause" in holding and "broker incident" in holding
    assert "3 May 2027, 09:15" in holding and "an operator resumes" in holding and "operator:nia" in holding
    assert 'action="/ops/maintenance/resume"' in page.text
    assert 'action="/ops/maintenance/pause"' not in page.text
    assert "No window is scheduled." in page.text
    assert "still paused" in page.text.split('data-table="pause-history"', 1)[1]


def test_with_nothing_held_the_page_says_batches_are_being_decided(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)

    page = client.get("/ops/maintenance")

    assert 'data-holding="none"' in page.text
    assert "Batches are being decided: no maintenance now." in page.text


def test_an_ao_user_is_refused_every_maintenance_page_and_nothing_is_sent(portal: StubbedPortal) -> None:
    client, person = portal.signed_in(Role.AO)
    quiet_ingest(portal)

    pages = [
        client.get("/ops/maintenance"),
        client.get(f"/ops/maintenance/windows/{TO_COME}/cancel"),
        client.post("/ops/maintenance/windows", data=form(person, **window_form())),
        client.post(f"/ops/maintenance/windows/{TO_COME}/cancel", data=form(person)),
        client.post("/ops/maintenance/pause", data=form(person, pause_reason="broker incident")),
        client.post("/ops/maintenance/resume", data=form(person)),
    ]

    assert [page.status_code for page in pages] == [403] * len(pages)
    assert all("This page is for operators." in page.text for page in pages)
    assert [request for request in portal.sent if request.method != "GET"] == []
    assert not portal.sent_to("GET", HISTORY)
    assert 'href="/ops/maintenance"' not in client.get("/").text


# --- scheduling ----------------------------------------------------------------------------------


def test_scheduling_sends_ingest_the_uk_times_typed_as_instants_and_says_it_is_done(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)
    portal.on("POST", WINDOWS, lambda _: window_changed(window_record(WINDOW_TO_COME, "operator:olu")))
    values = window_form(starts_time="22:30", reason="  database upgrade  ")

    answer = client.post("/ops/maintenance/windows", data=form(operator, **values))

    assert (answer.status_code, answer.headers["location"]) == (303, "/ops/maintenance")
    (sent,) = portal.sent_to("POST", WINDOWS)
    body = json.loads(sent.content)
    assert body["reason"] == "database upgrade"
    starts_day, ends_day = uk_day(30), uk_day(31)
    assert datetime.fromisoformat(body["starts_at"]) == datetime(
        starts_day.year, starts_day.month, starts_day.day, 22, 30, tzinfo=UK
    )
    assert datetime.fromisoformat(body["ends_at"]) == datetime(
        ends_day.year, ends_day.month, ends_day.day, 2, tzinfo=UK
    )
    assert datetime.fromisoformat(body["starts_at"]).utcoffset() is not None
    done = client.get(answer.headers["location"])
    assert "The maintenance window is scheduled." in done.text
    assert "data-unpublished" not in done.text
    assert "data-done" not in client.get("/ops/maintenance").text  # said once: a reload shows no banner


def test_a_change_kafka_has_not_taken_yet_is_said_to_be_saved_but_not_yet_published(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)
    portal.on("POST", WINDOWS, lambda _: window_changed(window_record(WINDOW_TO_COME, "operator:olu"), published=False))

    answer = client.post("/ops/maintenance/windows", data=form(operator, **window_form()))

    assert answer.headers["location"] == "/ops/maintenance"
    assert "Kafka has not taken the new schedule yet" in client.get(answer.headers["location"]).text
    assert "data-unpublished" not in client.get("/ops/maintenance").text


def test_no_banner_is_taken_from_the_address(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)

    shown = client.get("/ops/maintenance?done=scheduled&unpublished=true")

    assert shown.status_code == 200
    assert "data-done" not in shown.text and "data-unpublished" not in shown.text


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        ({"starts_date": ""}, "starts_date", "Enter the date the window starts"),
        ({"starts_date": "1/6/2027"}, "starts_date", "Enter the start date as year-month-day, like 2027-06-01"),
        ({"ends_date": "2027-02-30"}, "ends_date", "Enter the end date as year-month-day"),
        ({"starts_time": ""}, "starts_time", "Enter the time the window starts"),
        ({"ends_time": "25:00"}, "ends_time", "Enter the end time on the 24-hour clock, like 22:00"),
        ({"ends_time": "10pm"}, "ends_time", "Enter the end time on the 24-hour clock"),
        ({"ends_date": Days(29)}, "ends_date", "The window must end after it starts"),
        (
            {"starts_date": Days(-3), "ends_date": Days(-2)},
            "ends_date",
            "The window would already be over",
        ),
        ({"ends_date": Days(33)}, "ends_date", "A window lasts at most 48 hours"),
        (
            {"starts_date": Days(-1), "ends_date": Days(1)},
            "starts_date",
            "A window cannot start in the past: start it now or later",
        ),
        (
            {"starts_date": Days(400), "ends_date": Days(401)},
            "starts_date",
            "A window starts at most 366 days from now",
        ),
        ({"reason": ""}, "reason", "Say what the maintenance is for"),
        ({"reason": "   "}, "reason", "Say what the maintenance is for"),
        ({"reason": "x" * 501}, "reason", "The reason must be 500 characters or fewer"),
        ({"reason": "database\x00upgrade"}, "reason", "The reason holds the control character U+0000 at character 9"),
        ({"reason": "database\x1bupgrade"}, "reason", "The reason holds the control character U+001B"),
        (  # every AO reads it, in the banner: it would read in another order than it was written (ingest's rule)
            {"reason": "database \u202eedarpgu"},
            "reason",
            "The reason holds the bidirectional control U+202E at character 10",
        ),
    ],
)
def test_a_window_typed_wrong_is_refused_on_its_field_and_ingest_is_not_asked(
    portal: StubbedPortal, values: dict[str, str | Days], field: str, says: str
) -> None:
    # dates from the UK's today when the test runs, not when it was collected (a run may cross midnight)
    typed = {
        name: uk_day(value.from_today).isoformat() if isinstance(value, Days) else value
        for name, value in values.items()
    }
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)

    answer = client.post("/ops/maintenance/windows", data=form(operator, **window_form(**typed)))

    assert answer.status_code == 400
    assert f'href="#{field}">{says}' in error_summary(answer.text)
    assert f'id="{field}-error" class="govuk-error-message">' in answer.text
    assert "<title>Error: Maintenance" in answer.text
    assert not portal.sent_to("POST", WINDOWS)
    if field != "reason" and typed.get(field):
        assert f'value="{typed[field]}"' in answer.text  # kept for the operator to mend


@pytest.mark.parametrize(
    ("day", "clock", "says"),
    [
        (date(2027, 3, 28), "01:30", "There is no 01:30 on 28 Mar 2027 in the UK: the clocks go forward that night"),
        (date(2027, 10, 31), "01:30", "01:30 on 31 Oct 2027 happens twice in the UK, as the clocks go back"),
    ],
)
def test_a_uk_time_the_clock_change_skips_or_repeats_is_refused_on_the_time(
    portal: StubbedPortal, day: date, clock: str, says: str
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)
    values = window_form(starts_date=day.isoformat(), starts_time=clock, ends_date=day.isoformat(), ends_time="04:00")

    answer = client.post("/ops/maintenance/windows", data=form(operator, **values))

    assert answer.status_code == 400
    assert f'href="#starts_time">{says}' in error_summary(answer.text)
    assert not portal.sent_to("POST", WINDOWS)


@pytest.mark.parametrize(
    ("starts", "ends", "refused"),
    [
        # 48.5 hours by the clock, 47.5 as they pass: the clocks go forward an hour at 01:00 on 28 Mar 2027
        (datetime(2027, 3, 27, 0, 30, tzinfo=UK), datetime(2027, 3, 29, 1, 0, tzinfo=UK), {}),
        # 48 hours by the clock, 49 as they pass: the clocks go back an hour at 02:00 on 31 Oct 2027
        (
            datetime(2027, 10, 29, 2, 0, tzinfo=UK),
            datetime(2027, 10, 31, 2, 0, tzinfo=UK),
            {"ends_date": "A window lasts at most 48 hours: the batches it holds wait on a topic kept for 7 days"},
        ),
    ],
)
def test_a_window_across_a_clock_change_is_as_long_as_the_hours_that_pass(
    starts: datetime, ends: datetime, refused: dict[str, str]
) -> None:
    assert window_errors(starts, ends, datetime(2027, 1, 15, 12, 0, tzinfo=UTC)) == refused


def test_a_window_of_49_hours_across_the_clocks_going_back_is_refused_and_ingest_is_not_asked(
    portal: StubbedPortal,
) -> None:
    """02:00 on the Friday to 02:00 on the Sunday the clocks go back next: 48 hours by the clock."""
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)
    sunday = next(
        sunday
        for sunday in (last_sunday_of_october(uk_day(1).year), last_sunday_of_october(uk_day(1).year + 1))
        if sunday - timedelta(days=2) >= uk_day(1)
    )
    friday = sunday - timedelta(days=2)
    values = window_form(
        starts_date=friday.isoformat(), starts_time="02:00", ends_date=sunday.isoformat(), ends_time="02:00"
    )

    answer = client.post("/ops/maintenance/windows", data=form(operator, **values))

    assert answer.status_code == 400
    assert 'href="#ends_date">A window lasts at most 48 hours' in error_summary(answer.text)
    assert not portal.sent_to("POST", WINDOWS)


def last_sunday_of_october(year: int) -> date:
    last = date(year, 10, 31)
    return last - timedelta(days=(last.weekday() + 1) % 7)


@pytest.mark.parametrize(
    ("refusal", "field"),
    [
        (problem(422, "body.reason: is blank: say what the maintenance is for"), "reason"),
        (problem(422, "body.ends_at: Input should have timezone info"), "ends_date"),
    ],
)
def test_a_field_ingest_refuses_is_shown_on_that_field(
    portal: StubbedPortal, refusal: httpx.Response, field: str
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)
    portal.on("POST", WINDOWS, lambda _: refusal)

    answer = client.post("/ops/maintenance/windows", data=form(operator, **window_form()))

    assert answer.status_code == 400
    assert f'href="#{field}">{refusal.json()["detail"]}' in error_summary(answer.text)
    assert f'id="{field}-error" class="govuk-error-message">' in answer.text
    assert "data-refusal" not in answer.text
    assert 'value="database upgrade"' in answer.text


@pytest.mark.parametrize(
    "refusal",
    [
        problem(
            422,
            "a window lasts at most 48 hours: the batches it holds wait on a topic kept for 7 days",
            title="Invalid maintenance window",
        ),
        problem(422, "a window must end after it starts", title="Invalid maintenance window"),
        problem(
            422,
            "with the windows it overlaps or touches, batches would be held from 2027-06-01T21:00:00Z to"
            " 2027-06-03T22:00:00Z, more than 48 hours in one go: the batches wait on a topic kept for 7 days",
            title="Invalid maintenance window",
        ),
        problem(422, "body.starts_at: Input should have timezone info; body.ends_at: Input should have timezone info"),
        httpx.Response(403, json={"title": "Forbidden", "detail": "Maintenance windows are scheduled by operators."}),
    ],
)
def test_a_window_ingest_refuses_as_a_whole_is_shown_above_the_form_not_on_a_field(
    portal: StubbedPortal, refusal: httpx.Response
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)
    portal.on("POST", WINDOWS, lambda _: refusal)

    answer = client.post("/ops/maintenance/windows", data=form(operator, **window_form()))

    assert answer.status_code == 400
    said = uk_times_in(refusal.json()["detail"])  # its instants in UK time (test_maintenance_still_held_said)
    assert f'<p class="govuk-body" data-refusal>{said}</p>' in answer.text
    assert 'class="govuk-error-message">' not in answer.text  # on no field: each field's message is hidden
    assert "<title>Error: Maintenance" in answer.text
    assert 'value="database upgrade"' in answer.text and f'value="{uk_day(30).isoformat()}"' in answer.text


def test_a_window_without_the_sessions_csrf_token_is_refused_and_nothing_is_sent(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)

    answer = client.post("/ops/maintenance/windows", data={"csrf_token": "forged", **window_form()})

    assert answer.status_code == 403
    assert not portal.sent_to("POST", WINDOWS)


# --- cancelling ----------------------------------------------------------------------------------


def test_cancel_asks_first_and_says_a_window_under_way_ends_now(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    active = {"reason": "database upgrade", "until": WINDOW_UNDER_WAY["ends_at"], "paused": False, "message": "..."}
    ingest_with(portal, windows=[WINDOW_UNDER_WAY, WINDOW_TO_COME], active=active)

    under_way = client.get(f"/ops/maintenance/windows/{UNDER_WAY}/cancel")
    to_come = client.get(f"/ops/maintenance/windows/{TO_COME}/cancel")

    assert under_way.status_code == 200
    assert '<h1 class="govuk-heading-l">End the maintenance window now?</h1>' in under_way.text
    assert "it ends now" in under_way.text and "Yes, end it now" in under_way.text
    assert '<h1 class="govuk-heading-l">Cancel the maintenance window?</h1>' in to_come.text
    assert "reference data reload" in to_come.text and "1 Jun 2099, 22:00 (UK time)" in to_come.text
    assert f'action="/ops/maintenance/windows/{TO_COME}/cancel"' in to_come.text
    assert not [request for request in portal.sent if request.method == "DELETE"]


def test_cancel_of_a_window_no_longer_to_come_says_so(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)

    answer = client.get(f"/ops/maintenance/windows/{CANCELLED}/cancel")

    assert answer.status_code == 404
    assert "That window was cancelled or is over: there is nothing to cancel." in answer.text
    assert client.get("/ops/maintenance/windows/not-a-window/cancel").status_code == 404


@pytest.mark.parametrize(("scheduled", "done"), [(WINDOW_TO_COME, "cancelled"), (WINDOW_UNDER_WAY, "ended")])
def test_cancelling_deletes_the_window_at_ingest(portal: StubbedPortal, scheduled: dict[str, str], done: str) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)
    window_id = scheduled["window_id"]
    record = window_record(scheduled, "operator:olu", "operator:nia", NOW)
    portal.on(
        "DELETE", f"{WINDOWS}/{window_id}", lambda _: httpx.Response(200, json={"window": record, "published": True})
    )

    answer = client.post(f"/ops/maintenance/windows/{window_id}/cancel", data=form(operator))

    assert (answer.status_code, answer.headers["location"]) == (303, "/ops/maintenance")
    assert len(portal.sent_to("DELETE", f"{WINDOWS}/{window_id}")) == 1
    assert escape(DONE[done]) in client.get("/ops/maintenance").text


def test_cancelling_a_window_cancelled_already_says_who_cancelled_it_and_when(portal: StubbedPortal) -> None:
    """Report idempotency, finding 2: the cancel sent again was "That could not be done" under a banner still listing
    the window; now the page is shown again, saying what is so, read after the refusal."""
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)
    detail = f"maintenance window {CANCELLED} was cancelled already, by operator:nia at 2027-05-01T09:00:00Z"
    portal.on("DELETE", f"{WINDOWS}/{CANCELLED}", lambda _: problem(409, detail))

    answer = client.post(f"/ops/maintenance/windows/{CANCELLED}/cancel", data=form(operator))

    assert (answer.status_code, answer.headers["location"]) == (303, "/ops/maintenance")
    page = client.get("/ops/maintenance").text
    cancelled_at = uk_time(NOW - timedelta(days=4))
    assert (
        escape(
            f"Already cancelled. operator:nia cancelled the maintenance window (broker upgrade) at {cancelled_at}"
            " (UK time): nothing more was done."
        )
        in page
    )
    assert "That could not be done" not in page


# --- pausing and resuming ------------------------------------------------------------------------


def test_pausing_sends_the_reason_to_ingest(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)
    portal.on("POST", PAUSE, lambda _: httpx.Response(201, json={"pause": PAUSE_ON, "published": True}))

    answer = client.post("/ops/maintenance/pause", data=form(operator, pause_reason="broker incident"))

    assert (answer.status_code, answer.headers["location"]) == (303, "/ops/maintenance")
    assert "Deciding batches is paused." in client.get("/ops/maintenance").text
    (sent,) = portal.sent_to("POST", PAUSE)
    assert json.loads(sent.content) == {"reason": "broker incident"}


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        ("", "Say why you are pausing"),
        ("broker\x00incident", "The reason holds the control character U+0000"),
        ("broker \u2066incident", "The reason holds the bidirectional control U+2066 at character 8"),
    ],
)
def test_a_pause_reason_typed_wrong_is_refused_and_ingest_is_not_asked(
    portal: StubbedPortal, reason: str, says: str
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)

    answer = client.post("/ops/maintenance/pause", data=form(operator, pause_reason=reason))

    assert answer.status_code == 400
    assert f'href="#pause_reason">{says}' in error_summary(answer.text)
    assert not portal.sent_to("POST", PAUSE)


def test_pausing_when_already_paused_with_that_reason_says_who_paused_and_when(portal: StubbedPortal) -> None:
    """Report idempotency, finding 2: a pause sent again was "That could not be done … resume it first"."""
    client, operator = portal.signed_in(Role.OPERATOR)
    ingest_with(portal, windows=[], paused=True, active={"reason": "x", "until": None, "paused": True, "message": "."})
    portal.on("POST", PAUSE, lambda _: problem(409, "the LRS is paused already, by operator:nia at …"))

    answer = client.post("/ops/maintenance/pause", data=form(operator, pause_reason="broker incident"))

    assert (answer.status_code, answer.headers["location"]) == (303, "/ops/maintenance")
    page = client.get("/ops/maintenance").text
    assert (
        escape(
            f"Already paused. operator:nia paused deciding batches at {uk_time(str(PAUSE_ON['paused_at']))} (UK time), with"
            " this reason: nothing more was done."
        )
        in page
    )
    assert "resume it first" not in page and "That could not be done" not in page
    assert 'action="/ops/maintenance/resume"' in page


def test_resuming_asks_ingest_to_resume(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)
    portal.on("POST", RESUME, lambda _: httpx.Response(200, json={"pause": PAUSE_OVER, "published": True}))

    answer = client.post("/ops/maintenance/resume", data=form(operator))

    assert (answer.status_code, answer.headers["location"]) == (303, "/ops/maintenance")
    assert len(portal.sent_to("POST", RESUME)) == 1
    assert "Deciding batches has resumed" in client.get(answer.headers["location"]).text


def test_resuming_when_not_paused_says_who_resumed_and_when(portal: StubbedPortal) -> None:
    """Report idempotency, finding 2: a resume sent again was "That could not be done the LRS is not paused"."""
    client, operator = portal.signed_in(Role.OPERATOR)
    quiet_ingest(portal)
    portal.on("POST", RESUME, lambda _: problem(409, "the LRS is not paused"))

    answer = client.post("/ops/maintenance/resume", data=form(operator))

    assert (answer.status_code, answer.headers["location"]) == (303, "/ops/maintenance")
    page = client.get("/ops/maintenance").text
    assert (
        escape(
            f"Already resumed. operator:nia resumed deciding batches at {uk_time(str(PAUSE_OVER['resumed_at']))} (UK time):"
            " nothing more was done."
        )
        in page
    )
    assert error_summary(page) == ""


def test_the_banner_lists_the_next_three_windows_and_the_later_ones_behind_a_click(portal: StubbedPortal) -> None:
    """Eleven windows made eleven lines at the top of every page."""
    starts = [datetime(2027, 6, day, 21, 0, tzinfo=UTC) for day in range(1, 6)]
    windows = [
        window(str(day), start, start + timedelta(hours=2), f"upgrade {day}") for day, start in enumerate(starts)
    ]
    portal.on("GET", SCHEDULE, lambda _: httpx.Response(200, json={"active": None, "windows": windows, "pause": None}))
    client, _ = portal.signed_in()

    page = client.get("/").text

    listed, _, later = page.partition('data-maintenance="later"')
    assert all(f"upgrade {day}" in listed for day in range(3)) and "upgrade 3" not in listed
    assert "2 more planned windows, the last ending 6 Jun 2027, 00:00 (UK time)" in later  # BST
    assert "upgrade 3" in later and "upgrade 4" in later
