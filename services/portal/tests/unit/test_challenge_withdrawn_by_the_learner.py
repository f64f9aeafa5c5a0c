"""A challenge its learner withdrew (decision 0194) reads "Withdrawn by the learner" on the AO's pages, its page and the
resolved list, without "resolved by the learner" said twice; one an operator withdrew for the learner says so. The
resolve form never offers `withdrawn`: only the learner withdraws."""

from __future__ import annotations

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_challenge_pages import CHALLENGE_ID, challenge, with_a_challenge

WITHDRAWN = {
    "state": "resolved",
    "resolved_at": "2026-12-01T09:00:00Z",
    "resolution": "withdrawn",
    "resolved_by": "the learner",
}


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_a_withdrawn_challenge_reads_withdrawn_by_the_learner_on_its_page_and_in_the_resolved_list(
    portal: StubbedPortal,
) -> None:
    client, _ = portal.signed_in()
    withdrawn = challenge(**WITHDRAWN)
    with_a_challenge(portal, withdrawn)
    listed = {"items": [withdrawn], "next": None}
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json=listed))

    page = client.get(f"/challenges/{CHALLENGE_ID}").text
    every_resolved = client.get("/challenges/resolved").text

    assert '<span data-resolution="withdrawn">Withdrawn by the learner</span>' in page
    assert "by the learner)" not in page  # said once, not "Withdrawn by the learner (resolved by the learner)"
    assert "Resolve the challenge" not in page and 'value="withdrawn"' not in page
    row = every_resolved.split(f'data-challenge="{CHALLENGE_ID}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-resolution="withdrawn">Withdrawn by the learner</span>' in row


def test_one_an_operator_withdrew_for_the_learner_says_who_did(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    with_a_challenge(portal, challenge(**{**WITHDRAWN, "resolved_by": "an LRS operator"}))

    page = client.get(f"/challenges/{CHALLENGE_ID}").text

    assert "Withdrawn by the learner</span> (withdrawn by an LRS operator)" in page


def test_the_resolve_form_offers_the_ao_its_three_resolutions_and_never_withdrawn(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    with_a_challenge(portal, challenge())

    page = client.get(f"/challenges/{CHALLENGE_ID}").text

    for resolution in ("corrected", "upheld", "rejected"):
        assert f'name="resolution" type="radio" value="{resolution}"' in page
    assert 'value="withdrawn"' not in page


def test_a_resolve_sent_as_withdrawn_is_the_forms_own_error_and_never_reaches_the_service(
    portal: StubbedPortal,
) -> None:
    """A crafted form (the page never offers it): the person is asked to choose, as for no choice at all."""
    client, person = portal.signed_in()
    with_a_challenge(portal, challenge())

    answer = client.post(f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="withdrawn"))

    assert answer.status_code == 400
    assert 'href="#resolution">Choose how the challenge was resolved' in answer.text
    assert portal.sent_to("POST", f"challenges/v1/challenges/{CHALLENGE_ID}/resolve") == []
