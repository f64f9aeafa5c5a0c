"""A challenge resolution sent when a colleague of the AO resolved it first (or the learner withdrew it) was dropped
without a word: the portal took the service's "resolved already" for a double-click and showed the challenge's page,
resolved as the colleague said, nothing saying that this person's resolution and note to the learner were not
recorded. Now the page says so, with how it was resolved first, and keeps the note typed; a double-click (the same
resolution and note, recorded by the first click) is still sent quietly to the challenge's page."""

from __future__ import annotations

import html
import re
import uuid

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, problem, stubbed_portal
from services.portal.tests.unit.test_challenge_pages import CHALLENGE_ID, challenge, with_a_challenge

RESOLVE = f"challenges/v1/challenges/{CHALLENGE_ID}/resolve"
REFUSED = problem(409, "a resolved challenge cannot be resolved", state="resolved", code="CHALLENGE_NOT_IN_THAT_STATE")
NOTE = "The grade was checked against the\r\nmarked script: it is right."


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def resolved_first(portal: StubbedPortal, **how: object) -> None:
    """The challenge as a colleague resolved it a moment ago; the service refuses any resolution after it."""
    shown = challenge(state="resolved", resolved_at="2026-12-07T02:49:00Z", resolved_by="the awarding organisation")
    with_a_challenge(portal, {**shown, **how})
    portal.on("POST", RESOLVE, lambda _: REFUSED)


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_a_resolution_sent_after_a_colleagues_other_one_is_said_not_recorded_and_keeps_the_note(
    portal: StubbedPortal,
) -> None:
    client, person = portal.signed_in()
    resolved_first(portal, resolution="rejected", note="This is an appeal, not a data error.")

    answer = client.post(f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="upheld", reason=NOTE))

    assert answer.status_code == 409
    page = answer.text
    assert "<title>Not recorded: " in page
    banner = page.split("data-not-recorded>", 1)[1].split("</div>\n</div>", 1)[0]
    said = text_of(banner)
    assert (
        "Not recorded: this challenge was resolved already, 7 Dec 2026, 02:49 (UK time), as Rejected: not a data"
        " error (resolved by the awarding organisation)." in said
    )
    assert "Your resolution (Data confirmed correct) and note were not sent" in said
    kept = re.search(r"data-note-not-sent>([^<]*)<", banner)
    assert kept is not None and html.unescape(kept.group(1)) == NOTE.strip().replace("\r\n", "\n")
    assert 'role="alert"' in page.split("data-not-recorded", 1)[0].rsplit("<div", 1)[1]
    assert "This is an appeal, not a data error." in page  # the page shows the resolution recorded, as before
    assert "govuk-error-summary" not in page


def test_a_corrected_resolution_naming_another_batch_than_the_one_recorded_is_said_not_recorded(
    portal: StubbedPortal,
) -> None:
    client, person = portal.signed_in()
    recorded, mine = str(uuid.uuid4()), str(uuid.uuid4())
    resolved_first(portal, resolution="corrected", correcting_batch_id=recorded)

    answer = client.post(
        f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="corrected", other_batch_id=mine)
    )

    assert answer.status_code == 409
    said = text_of(answer.text.split("data-not-recorded>", 1)[1].split("</div>\n</div>", 1)[0])
    assert "Your resolution (Data corrected) was not sent" in said
    assert "data-note-not-sent" not in answer.text


def test_a_resolution_sent_after_the_learner_withdrew_the_challenge_is_said_not_recorded(
    portal: StubbedPortal,
) -> None:
    client, person = portal.signed_in()
    resolved_first(portal, resolution="withdrawn", resolved_by="the learner")

    answer = client.post(f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="upheld", reason=NOTE))

    assert answer.status_code == 409
    said = text_of(answer.text.split("data-not-recorded>", 1)[1].split("</div>\n</div>", 1)[0])
    assert "resolved already, 7 Dec 2026, 02:49 (UK time), as Withdrawn by the learner." in said


@pytest.mark.parametrize(
    ("recorded", "sent"),
    [
        ({"resolution": "upheld", "note": NOTE}, {"resolution": "upheld", "reason": NOTE}),
        ({"resolution": "upheld", "note": NOTE.replace("\r\n", "\n")}, {"resolution": "upheld", "reason": NOTE}),
        ({"resolution": "rejected", "note": None, "personal_data_erased": True}, {"resolution": "rejected"}),
    ],
    ids=["same", "lines-ended-by-the-service", "erased-learner-no-note"],
)
def test_a_double_click_of_the_same_resolution_is_sent_quietly_to_the_challenges_page(
    portal: StubbedPortal, recorded: dict[str, object], sent: dict[str, str]
) -> None:
    client, person = portal.signed_in()
    resolved_first(portal, resolved_by="you", **recorded)

    answer = client.post(f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, **sent))

    assert (answer.status_code, answer.headers["location"]) == (303, f"/challenges/{CHALLENGE_ID}")


def test_a_challenge_that_cannot_be_read_after_the_refusal_is_sent_to_its_page(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    portal.on("POST", RESOLVE, lambda _: REFUSED)
    portal.on("GET", f"challenges/v1/challenges/{CHALLENGE_ID}", lambda _: httpx.Response(503, json={"title": "No"}))

    answer = client.post(f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="upheld", reason=NOTE))

    assert (answer.status_code, answer.headers["location"]) == (303, f"/challenges/{CHALLENGE_ID}")
