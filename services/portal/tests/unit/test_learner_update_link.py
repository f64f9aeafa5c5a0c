"""The learner page's Update link fills in every field the achievement holds: a field left empty in an Update
means "none" and would clear it on the learner's record."""

from __future__ import annotations

import html
import re

import httpx
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
