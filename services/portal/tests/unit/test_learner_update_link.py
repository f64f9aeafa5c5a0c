"""The learner page's Update link fills in every field the achievement holds: a field left empty in an Update
means "none" and would clear it on the learner's record."""

from __future__ import annotations

import html
import re

import httpx
from fastapi.testclient import TestClient
from services.portal.tests.unit.stubbed_portal import form, stubbed_portal

from portal.accounts import Role

ULN = "1000000043"
ACHIEVEMENT = {
    "id": "0b6f3c1e-8f4a-4d52-9a0e-2f9c6a1d7e35",
    "subject_code": "60190541",
    "subject": "Diploma",
    "status": "F",
    "grade": "Pass",
    "achievement_award_date": "2025-03-31",
    "achievement_provider_ukprn": "10001234",
    "language_for_assessment": "English",
    "pathway": "Route B",
    "credits": 12,
    "withdrawn": False,
    "under_data_challenge": "N",
    "history": [],
}


def test_update_carries_the_achievements_every_field_into_the_form() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    plr = {"uln": ULN, "master_uln": None, "ulns": [ULN], "learning_events": [ACHIEVEMENT]}
    portal.on("GET", "plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))

    page = client.post("/learners", data=form(person, uln=ULN))
    [link] = re.findall(r'href="([^"]*action=Update[^"]*)"', page.text)
    entry = client.get(html.unescape(link))

    assert "Route B" in page.text and "English" in page.text  # what the Update keeps is shown
    for name, value in [("uln", ULN), ("pathway", "Route B"), ("centre_ukprn", "10001234"), ("credits", "12")]:
        assert re.search(rf'id="{name}" name="{name}" type="text" value="{value}"', entry.text), name
    assert re.search(r'<option value="English" selected', entry.text)


def _learner_page_links(achievement: dict[str, object], **names: str) -> tuple[TestClient, dict[str, str]]:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    plr = {"uln": ULN, "master_uln": None, "ulns": [ULN], "learning_events": [achievement]}
    portal.on("GET", "plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))
    page = client.post("/learners", data=form(person, uln=ULN, **names))
    links = {action: html.unescape(link) for link, action in re.findall(r'href="([^"]*action=(\w+)[^"]*)"', page.text)}
    return client, links


def _filled(entry: str, name: str) -> str | None:
    found = re.search(rf'id="{name}" name="{name}" type="text" value="([^"]*)"', entry)
    return html.unescape(found.group(1)) if found else None


def test_withdraw_and_update_fill_in_the_learner_the_names_typed_and_the_achievements_key() -> None:
    client, links = _learner_page_links(ACHIEVEMENT, given_name="Zoë", family_name="O'Brien-Smith")

    assert set(links) == {"Update", "Withdraw"}
    for action, link in links.items():
        entry = client.get(link).text
        assert re.search(rf'<option value="{action}" selected', entry), action
        expected = {
            "uln": ULN,
            "given_name": "Zoë",
            "family_name": "O'Brien-Smith",
            "qualification_number": "60190541",
            "pathway": "Route B",
            "award_date": "2025-03-31",
        }
        for name, value in expected.items():
            assert _filled(entry, name) == value, (action, name)
    withdraw = client.get(links["Withdraw"]).text
    assert _filled(withdraw, "grade") == "" and _filled(withdraw, "centre_ukprn") == ""  # a Withdraw changes nothing


def test_reinstate_fills_in_the_learner_too() -> None:
    client, links = _learner_page_links({**ACHIEVEMENT, "withdrawn": True}, given_name="Ann", family_name="Lee")

    assert set(links) == {"Reinstate"}
    entry = client.get(links["Reinstate"]).text
    assert (_filled(entry, "uln"), _filled(entry, "given_name"), _filled(entry, "family_name")) == (ULN, "Ann", "Lee")


def test_without_names_typed_the_links_still_carry_the_uln() -> None:
    _, links = _learner_page_links(ACHIEVEMENT)

    assert all(f"uln={ULN}" in link and "given_name" not in link for link in links.values())


def test_a_name_too_long_for_a_record_is_a_field_error_on_the_learners_page() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)

    page = client.post("/learners", data=form(person, uln=ULN, given_name="A" * 36))

    assert page.status_code == 400
    assert 'href="#given_name">The given name must be 35 characters or fewer' in page.text
    assert not portal.sent_to("GET", "plr-projector/v1/ao/achievements")


def _entry_form(**changes: str) -> dict[str, str]:
    values = {
        "action": "Update",
        "job_type": "Final",
        "uln": ULN,
        "given_name": "Lily",
        "family_name": "McCarthy",
        "qualification_number": "601/9054/1",
        "award_date": "2025-03-31",
        "grade": "Merit",
        "centre_ukprn": "10005678",
        "credits": "",
        "notification_email": "results@ao.example",
        "entry_id": "3f2a9c1e-0000-4000-8000-000000000000",
    }
    return values | changes


def test_the_form_says_what_an_update_must_repeat_and_fills_in_the_recorded_achievement() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    plr = {"uln": ULN, "master_uln": None, "ulns": [ULN], "learning_events": [ACHIEVEMENT]}
    portal.on("GET", "plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))

    empty = client.get("/direct-entry").text
    entry = client.post("/direct-entry/recorded", data=form(person, **_entry_form()))

    assert "every field other than the grade, UKPRN and" in empty and 'formaction="/direct-entry/recorded"' in empty
    assert entry.status_code == 200
    assert "Filled in as recorded: the pathway, the credits, the language for assessment." in entry.text
    kept = {"grade": "Merit", "centre_ukprn": "10005678", "credits": "12", "pathway": "Route B", "uln": ULN}
    for name, value in kept.items():
        assert _filled(entry.text, name) == value, name
    assert re.search(r'<option value="English" selected', entry.text)
    assert 'value="3f2a9c1e-0000-4000-8000-000000000000"' in entry.text  # the same entry: one batch if sent twice
    assert not portal.sent_to("POST", "ingest/v1/batches")


def test_filling_in_an_achievement_not_recorded_says_so_at_the_qualification() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    plr = {"uln": ULN, "master_uln": None, "ulns": [ULN], "learning_events": [ACHIEVEMENT]}
    portal.on("GET", "plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))

    entry = client.post("/direct-entry/recorded", data=form(person, **_entry_form(award_date="2025-04-01")))

    assert entry.status_code == 400
    assert 'href="#qualification_number">You have recorded no achievement of this learner for 601/9054/1' in entry.text


def test_filling_in_needs_a_uln_a_learner_can_have_before_the_projector_is_asked() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)

    entry = client.post("/direct-entry/recorded", data=form(person, **_entry_form(uln="1000000042")))

    assert entry.status_code == 400
    assert 'href="#uln">RV002: ' in entry.text
    assert not portal.sent_to("GET", "plr-projector/v1/ao/achievements")
