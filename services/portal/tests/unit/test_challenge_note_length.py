"""An AO's note to the learner may be as long in the portal as the challenges service takes through its API and
the CLI (2,000 characters): the portal refused more than 1,500, and its hint named no limit at all."""

from __future__ import annotations

import json

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_challenge_pages import CHALLENGE_ID, challenge, with_a_challenge

from lrs_contracts.challenge import CHALLENGE_TEXT_MAX_LENGTH


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_a_note_as_long_as_the_service_takes_is_sent_and_a_longer_one_is_refused_naming_the_limit(
    portal: StubbedPortal,
) -> None:
    client, person = portal.signed_in()
    with_a_challenge(portal, challenge())
    sent: list[dict[str, object]] = []

    def resolved(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=challenge(state="resolved", resolution="upheld"))

    portal.on("POST", f"challenges/v1/challenges/{CHALLENGE_ID}/resolve", resolved)
    longest = ("The marked script was checked again. " * 60)[: CHALLENGE_TEXT_MAX_LENGTH - 1] + "."

    refused = client.post(
        f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="upheld", reason=longest + "x")
    )
    accepted = client.post(
        f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="upheld", reason=longest)
    )

    assert refused.status_code == 400
    assert accepted.status_code == 303 and [each["note"] for each in sent] == [longest]
    assert "The note must be 2,000 characters or fewer" in refused.text
    assert (
        "Kept with the challenge as its note (at most 2,000 characters)"
        in client.get(f"/challenges/{CHALLENGE_ID}").text
    )


def test_a_note_is_counted_and_sent_with_the_line_breaks_a_browser_sends_as_cr_lf_made_plain(
    portal: StubbedPortal,
) -> None:
    """A browser sends a textarea's line breaks as CR LF: a 2,000-character note of 21 lines reached the portal as
    2,020 characters and was refused (end-to-end walk, finding 3)."""
    client, person = portal.signed_in()
    with_a_challenge(portal, challenge())
    sent: list[dict[str, object]] = []

    def resolved(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=challenge(state="resolved", resolution="upheld"))

    portal.on("POST", f"challenges/v1/challenges/{CHALLENGE_ID}/resolve", resolved)
    lines = ["The marked script was checked again, line by line."] * 21
    note = "\n".join(lines)
    note += "." * (CHALLENGE_TEXT_MAX_LENGTH - len(note))

    answer = client.post(
        f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="upheld", reason=note.replace("\n", "\r\n"))
    )

    assert answer.status_code == 303
    assert [each["note"] for each in sent] == [note]
