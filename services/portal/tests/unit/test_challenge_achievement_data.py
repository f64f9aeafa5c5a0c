"""The AO's challenge page and table name the challenged achievement's pathway, centre UKPRN, language for assessment
and credits as they were when it was raised, with the words the learner's record uses for them (learner.html); a
challenge that has none of them says none."""

from __future__ import annotations

import re

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal
from services.portal.tests.unit.test_challenge_pages import CHALLENGE_ID, challenge, with_a_challenge

DATA = {"pathway": "Higher", "achievement_provider_ukprn": "10012345", "language_for_assessment": "Welsh", "credits": 0}


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def _row(label: str, name: str, value: str) -> str:
    return (
        rf'<dt class="govuk-summary-list__key">{label}</dt>'
        rf'<dd class="govuk-summary-list__value" data-achievement="{name}">{value}</dd>'
    )


def test_the_challenge_page_and_inbox_name_the_pathway_centre_language_and_credits(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    kept = challenge()["achievement"]
    assert isinstance(kept, dict)
    shown = challenge(achievement={**kept, **DATA})
    with_a_challenge(portal, shown)
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [shown], "next": None}))

    page = client.get(f"/challenges/{CHALLENGE_ID}").text
    inbox = client.get("/challenges").text

    assert re.search(_row("Pathway", "pathway", "Higher"), page)
    assert re.search(_row("Centre UKPRN", "centre-ukprn", "10012345"), page)
    assert re.search(_row("Language for assessment", "language", "Welsh"), page)
    assert re.search(_row("Credits", "credits", "0"), page), "no credits is 0, said"
    assert "Pathway Higher, Centre UKPRN 10012345, Language for assessment Welsh, Credits 0" in inbox


def test_a_challenge_without_them_says_none(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    kept = challenge()["achievement"]
    assert isinstance(kept, dict)
    none_kept = challenge(achievement={**kept, **dict.fromkeys(DATA)})
    with_a_challenge(portal, none_kept)
    portal.on(
        "GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [none_kept], "next": None})
    )

    page = client.get(f"/challenges/{CHALLENGE_ID}").text
    inbox = client.get("/challenges").text

    for label in ("Pathway", "Centre UKPRN", "Language for assessment", "Credits"):
        assert f">{label}</dt>" not in page
    assert "data-achievement-data" not in inbox
