"""What the AO reads on its challenge pages matches what the learner reads: an achievement the AO withdrew since the
challenge was raised says so (the API's `achievement_withdrawn`, as the CLI says it); the learner's reason and the
AO's note keep the lines they were written in; and an erased learner's open challenge asks for no note, since none
is kept or read (decision 0080)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, problem, stubbed_portal
from services.portal.tests.unit.test_challenge_pages import CHALLENGE_ID, challenge, with_a_challenge

import portal as portal_package

WITHDRAWN_ROW = (
    r'<dt class="govuk-summary-list__key">Now</dt><dd class="govuk-summary-list__value" data-achievement="withdrawn">'
    r"Withdrawn by you since it was raised \(no longer on the learner(&#39;|')s record\)</dd>"
)
NO_NOTE = "The learner(&#39;|')s personal data was erased: no note is kept or read."
CSS = Path(portal_package.__file__).parent / "static" / "portal.css"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def listed(portal: StubbedPortal, shown: dict[str, object]) -> None:
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [shown], "next": None}))


# --- withdrawn since it was raised ---------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["acknowledged", "resolved"])
def test_an_achievement_withdrawn_since_the_challenge_was_raised_is_said_on_its_page_and_in_the_lists(
    portal: StubbedPortal, state: str
) -> None:
    client, _ = portal.signed_in()
    resolved = {"resolved_at": "2026-12-01T09:00:00Z", "resolution": "upheld"} if state == "resolved" else {}
    withdrawn = challenge(state=state, achievement_withdrawn=True, **resolved)
    with_a_challenge(portal, withdrawn)
    listed(portal, withdrawn)

    page = client.get(f"/challenges/{CHALLENGE_ID}").text
    inbox = client.get("/challenges").text
    every_resolved = client.get("/challenges/resolved").text

    assert re.search(WITHDRAWN_ROW, page)
    listing = inbox if state != "resolved" else every_resolved
    row = listing.split(f'data-challenge="{CHALLENGE_ID}"', 1)[1].split("</tr>", 1)[0]
    assert '<strong class="govuk-tag govuk-tag--grey" data-withdrawn-since>Withdrawn since raised</strong>' in row


def test_an_achievement_still_on_the_record_is_not_said_withdrawn(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    live = challenge(achievement_withdrawn=False)
    with_a_challenge(portal, live)
    listed(portal, live)

    page = client.get(f"/challenges/{CHALLENGE_ID}").text
    inbox = client.get("/challenges").text

    assert 'data-achievement="withdrawn"' not in page
    assert "data-withdrawn-since" not in inbox


# --- lines kept ----------------------------------------------------------------------------------------------------


def test_a_reason_and_a_note_of_several_lines_keep_their_lines(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    reason = "My grade was Merit, not Distinction.\nSecond line"
    note = "We checked with the centre that entered you.\nThat is the centre on your record."
    resolved = challenge(
        state="resolved", resolved_at="2026-12-01T09:00:00Z", resolution="upheld", reason=reason, note=note
    )
    with_a_challenge(portal, resolved)
    listed(portal, resolved)

    page = client.get(f"/challenges/{CHALLENGE_ID}").text
    every_resolved = client.get("/challenges/resolved").text

    assert f'<dd class="govuk-summary-list__value portal-multiline">{reason}</dd>' in page
    assert f'<dd class="govuk-summary-list__value portal-multiline">{note}</dd>' in page
    assert f'<td class="govuk-table__cell portal-multiline">{reason}</td>' in every_resolved
    rule = re.search(r"\.portal-multiline \{([^}]*)\}", CSS.read_text())
    assert rule is not None
    assert {part.strip() for part in rule[1].split(";") if part.strip()} == {
        "white-space: pre-wrap",
        "overflow-wrap: anywhere",
    }
    assert " style=" not in page  # the content security policy refuses inline styles


# --- an erased learner's challenge ---------------------------------------------------------------------------------


def resolving(portal: StubbedPortal, shown: dict[str, object]) -> None:
    """The challenge, and a resolve the challenges service answers as it does: a note needed with upheld or
    rejected, unless the learner was erased."""
    with_a_challenge(portal, shown)

    def resolve(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        if sent["resolution"] in ("upheld", "rejected") and not sent["note"] and not shown["personal_data_erased"]:
            return problem(422, "Say why in the note", code="RESOLUTION_NOTE_REQUIRED")
        return httpx.Response(200, json={**shown, "state": "resolved", **sent})

    portal.on("POST", f"challenges/v1/challenges/{CHALLENGE_ID}/resolve", resolve)


def test_an_erased_learners_open_challenge_asks_for_no_note_and_is_resolved_without_one(
    portal: StubbedPortal,
) -> None:
    client, person = portal.signed_in()
    resolving(portal, challenge(reason=None, personal_data_erased=True))

    page = client.get(f"/challenges/{CHALLENGE_ID}").text
    answer = client.post(f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="rejected"))

    assert re.search(NO_NOTE, page)
    assert 'name="reason"' not in page
    assert "the learner reads it" not in page
    assert answer.status_code == 303
    (sent,) = portal.sent_to("POST", f"challenges/v1/challenges/{CHALLENGE_ID}/resolve")
    assert json.loads(sent.content) == {"resolution": "rejected", "note": None}


def test_any_other_learners_challenge_still_asks_for_the_reason(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    resolving(portal, challenge())

    page = client.get(f"/challenges/{CHALLENGE_ID}").text
    answer = client.post(f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="upheld"))

    assert 'name="reason"' in page and "the learner reads it" in page
    assert not re.search(NO_NOTE, page)
    assert answer.status_code == 400
    assert 'href="#reason">Give the reason, in words the learner will understand' in answer.text
