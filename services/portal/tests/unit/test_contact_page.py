"""The challenge contact page says what happens to challenges while an AO has no contact: they wait, and are emailed
to the contact it saves (decision 0155), rather than leaving the AO to think they were lost or will be."""

from __future__ import annotations

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal

CONTACT = {"given_name": "Ada", "family_name": "Byron", "telephone": "01632 960 001", "email": "ada@ao.example"}
NO_CONTACT_YET = "has no challenge contact yet. Challenges learners raise meanwhile are not lost"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_an_ao_without_a_contact_is_told_its_challenges_wait_for_one(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()

    shown = client.get("/contact")

    assert shown.status_code == 200
    assert f"RN9093 {NO_CONTACT_YET}" in shown.text.replace("&#39;", "'")


def test_an_ao_with_a_contact_is_not_told_it_has_none(portal: StubbedPortal) -> None:
    stored = {**CONTACT, "ao_id": "RN9093", "updated_at": "2026-12-03T14:00:00Z"}
    portal.on("GET", "notifier/v1/ao/RN9093/challenge-contact", lambda _: httpx.Response(200, json=stored))
    client, _ = portal.signed_in()

    shown = client.get("/contact")

    assert shown.status_code == 200 and "data-no-contact" not in shown.text


def test_a_saved_contact_is_said_to_receive_the_challenge_emails_that_waited(portal: StubbedPortal) -> None:
    saved = {**CONTACT, "ao_id": "RN9093", "updated_at": "2026-12-03T14:00:00Z"}
    portal.on("PUT", "notifier/v1/ao/RN9093/challenge-contact", lambda _: httpx.Response(200, json=saved))
    portal.on("GET", "notifier/v1/ao/RN9093/challenge-contact", lambda _: httpx.Response(200, json=saved))
    client, person = portal.signed_in()

    answer = client.post("/contact", data=form(person, **CONTACT))
    shown = client.get(answer.headers["location"])

    assert "Challenge emails now go to ada@ao.example, starting with any that waited for a contact." in shown.text


def test_a_mistyped_change_to_a_contact_does_not_say_the_ao_has_none(portal: StubbedPortal) -> None:
    stored = {**CONTACT, "ao_id": "RN9093", "updated_at": "2026-12-03T14:00:00Z"}
    portal.on("GET", "notifier/v1/ao/RN9093/challenge-contact", lambda _: httpx.Response(200, json=stored))
    client, person = portal.signed_in()

    refused = client.post("/contact", data=form(person, **{**CONTACT, "email": "bad"}))

    assert refused.status_code == 400
    assert "Enter an email address in the correct format" in refused.text
    assert "data-no-contact" not in refused.text  # the contact stored stays, and is still the one emailed


@pytest.mark.parametrize("name", ["given_name", "family_name"])
def test_a_name_that_shows_as_nothing_is_refused_against_its_field(portal: StubbedPortal, name: str) -> None:
    client, person = portal.signed_in()

    refused = client.post("/contact", data=form(person, **{**CONTACT, name: "\u200b"}))  # a zero-width space

    assert refused.status_code == 400  # on the form, not sent to the notifier, which refuses it too
    label = name.replace("_", " ")
    assert f"Enter the contact&#39;s {label}: this holds only characters that show as nothing" in refused.text
