"""The learner page's Update, Withdraw and Reinstate buttons fill in the direct-entry form: Update with every field
the achievement holds (a field left empty in an Update means "none" and would clear it on the learner's record).
They post what they fill in: the learner's ULN and names never go into an address (browser history, access logs).
"""

from __future__ import annotations

import dataclasses
import html
import re
from html.parser import HTMLParser

import httpx
import pytest
from fastapi.testclient import TestClient
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, keeping_sandpit_keys, stubbed_portal

from portal.accounts import Role
from portal.backend import Services

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


@dataclasses.dataclass
class Button:
    """One of the learner page's forms to the direct-entry form: where it posts, what, and what its button says."""

    action: str
    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    text: str = ""


class _Buttons(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[Button] = []
        self._in_form = False
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and attributes.get("action", "").endswith("/direct-entry/prefilled"):
            assert attributes.get("method") == "post"
            self.found.append(Button(attributes["action"]))
            self._in_form = True
        elif tag == "input" and self._in_form:
            self.found[-1].fields[attributes["name"]] = attributes["value"]
        elif tag == "button" and self._in_form:
            self._in_button = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        if self._in_button:
            self.found[-1].text += data


def buttons(page: str) -> dict[str, Button]:
    """The page's buttons to the direct-entry form, by the action each fills in."""
    parser = _Buttons()
    parser.feed(page)
    return {button.fields["action"]: button for button in parser.found}


def answering(portal: StubbedPortal, achievement: dict[str, object], host: str = "") -> None:
    plr = {"uln": ULN, "master_uln": None, "ulns": [ULN], "learning_events": [achievement]}
    portal.on("GET", f"{host}plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))


def _learner_page(achievement: dict[str, object], **names: str) -> tuple[TestClient, str]:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    answering(portal, achievement)
    page = client.post("/learners", data=form(person, uln=ULN, **names), follow_redirects=True)
    assert page.status_code == 200
    return client, page.text


def _filled(entry: str, name: str) -> str | None:
    found = re.search(rf'id="{name}" name="{name}" type="text" value="([^"]*)"', entry)
    return html.unescape(found.group(1)) if found else None


def test_update_carries_the_achievements_every_field_into_the_form() -> None:
    client, page = _learner_page(ACHIEVEMENT)

    update = buttons(page)["Update"]
    entry = client.post(update.action, data=update.fields)

    assert entry.status_code == 200
    assert "Route B" in page and "English" in page  # what the Update keeps is shown
    for name, value in [("uln", ULN), ("pathway", "Route B"), ("centre_ukprn", "10001234"), ("credits", "12")]:
        assert _filled(entry.text, name) == value, name
    assert re.search(r'<option value="English" selected', entry.text)


def test_withdraw_and_update_fill_in_the_learner_the_names_typed_and_the_achievements_key() -> None:
    client, page = _learner_page(ACHIEVEMENT, given_name="Zoë", family_name="O'Brien-Smith")
    found = buttons(page)

    assert set(found) == {"Update", "Withdraw"}
    entries = {action: client.post(button.action, data=button.fields).text for action, button in found.items()}
    for action, entry in entries.items():
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
    withdraw = entries["Withdraw"]
    assert _filled(withdraw, "grade") == "" and _filled(withdraw, "centre_ukprn") == ""  # a Withdraw changes nothing


def test_reinstate_fills_in_the_learner_too() -> None:
    client, page = _learner_page({**ACHIEVEMENT, "withdrawn": True}, given_name="Ann", family_name="Lee")
    found = buttons(page)

    assert set(found) == {"Reinstate"}
    entry = client.post(found["Reinstate"].action, data=found["Reinstate"].fields).text
    assert (_filled(entry, "uln"), _filled(entry, "given_name"), _filled(entry, "family_name")) == (ULN, "Ann", "Lee")


def test_without_names_typed_the_buttons_still_fill_in_the_uln() -> None:
    client, page = _learner_page(ACHIEVEMENT)

    for button in buttons(page).values():
        entry = client.post(button.action, data=button.fields).text
        assert (_filled(entry, "uln"), _filled(entry, "given_name")) == (ULN, "")


def test_the_buttons_say_what_the_links_said_screen_readers_included() -> None:
    _, page = _learner_page(ACHIEVEMENT)
    _, withdrawn = _learner_page({**ACHIEVEMENT, "withdrawn": True})

    said = {action: " ".join(button.text.split()) for action, button in buttons(page).items()}
    assert said == {
        "Update": "Update 60190541 awarded 31 March 2025",
        "Withdraw": "Withdraw 60190541 awarded 31 March 2025",
    }
    assert " ".join(buttons(withdrawn)["Reinstate"].text.split()) == "Reinstate 60190541 awarded 31 March 2025"
    assert 'Update<span class="govuk-visually-hidden"> 60190541 awarded 31 March 2025</span>' in page


@pytest.mark.parametrize("withdrawn", [False, True], ids=["live", "withdrawn"])
def test_two_achievements_of_one_qualification_have_buttons_of_different_names(withdrawn: bool) -> None:
    """WCAG 2.4.6: a screen reader's list of buttons tells the two apart by their award dates."""
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    history = [
        {
            "occurred_at": "2025-04-01T09:00:00Z",
            "change": "created",
            "grade": "Pass",
            "status": "F",
            "withdrawn": False,
            "batch_id": "5f0c2d1e-0000-4000-8000-000000000001",
        }
    ]
    first = {**ACHIEVEMENT, "subject_code": "601/9054/1", "withdrawn": withdrawn, "history": history}
    second = {**first, "id": "9d1e6a52-3b7c-4f0e-8a21-5c4d3e2f1a0b", "achievement_award_date": "2024-07-15"}
    plr = {"uln": ULN, "master_uln": None, "ulns": [ULN], "learning_events": [first, second]}
    portal.on("GET", "plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))

    page = client.post("/learners", data=form(person, uln=ULN), follow_redirects=True).text

    parser = _Buttons()
    parser.feed(page)
    said = [" ".join(button.text.split()) for button in parser.found]
    assert len(said) == (2 if withdrawn else 4)
    assert len(set(said)) == len(said), said
    summaries = re.findall(r'<span class="govuk-details__summary-text">(.*?)</summary>', page, re.DOTALL)
    regions = re.findall(r'role="region" aria-label="([^"]*)"', page)
    assert len(set(summaries)) == len(summaries) == 2 and len(set(regions)) == len(regions) == 2, (summaries, regions)


def test_no_address_on_the_learner_page_names_the_learner() -> None:
    _, page = _learner_page(ACHIEVEMENT, given_name="Zephyrine", family_name="Quillfeather")
    addresses = re.findall(r'(?:href|action|formaction|src)="([^"]*)"', page)

    assert addresses and buttons(page)
    for address in addresses:
        assert not re.search(rf"{ULN}|Zephyrine|Quillfeather|uln=|given_name=|family_name=|date_of_birth=", address)


def test_the_buttons_need_the_sessions_csrf_token() -> None:
    client, page = _learner_page(ACHIEVEMENT)
    update = buttons(page)["Update"]

    entry = client.post(update.action, data={**update.fields, "csrf_token": "not-the-token"})

    assert entry.status_code == 403
    assert ULN not in entry.text


def test_a_value_longer_than_its_field_takes_is_refused() -> None:
    client, page = _learner_page(ACHIEVEMENT)
    update = buttons(page)["Update"]

    entry = client.post(update.action, data={**update.fields, "given_name": "A" * 36})

    assert entry.status_code == 400
    assert "A" * 36 not in entry.text


def test_the_sandpits_learner_page_posts_to_the_sandpits_form(monkeypatch: pytest.MonkeyPatch) -> None:
    portal = stubbed_portal()
    sandpit_urls = {name: f"http://sandpit-{name}" for name in ("ingest", "plr-projector", "validation")}
    sandpit = Services(sandpit_urls, httpx.AsyncClient(transport=httpx.MockTransport(portal.answer)))
    portal.app.state.portal = dataclasses.replace(portal.app.state.portal, sandpit=sandpit)
    keeping_sandpit_keys(portal, monkeypatch)
    answering(portal, ACHIEVEMENT, host="sandpit-")
    client, person = portal.signed_in(Role.AO)

    page = client.post(
        "/sandpit/learners", data=form(person, uln=ULN, given_name="Ann", family_name="Lee"), follow_redirects=True
    ).text
    withdraw = buttons(page)["Withdraw"]
    entry = client.post(withdraw.action, data=withdraw.fields)

    assert withdraw.action == "/sandpit/direct-entry/prefilled"
    assert ULN not in "".join(re.findall(r'(?:href|action)="([^"]*)"', page))
    assert entry.status_code == 200 and 'action="/sandpit/direct-entry"' in entry.text
    assert (_filled(entry.text, "uln"), _filled(entry.text, "given_name")) == (ULN, "Ann")


def test_an_address_that_fills_in_the_form_still_does() -> None:
    client, _ = _learner_page(ACHIEVEMENT)

    entry = client.get("/direct-entry", params={"action": "Withdraw", "qualification_number": "60190541"})

    assert re.search(r'<option value="Withdraw" selected', entry.text)
    assert _filled(entry.text, "qualification_number") == "60190541"


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


def test_filling_in_without_the_names_says_they_must_be_typed_as_they_are_never_filled_in() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    plr = {"uln": ULN, "master_uln": None, "ulns": [ULN], "learning_events": [ACHIEVEMENT]}
    portal.on("GET", "plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))

    without = client.post("/direct-entry/recorded", data=form(person, **_entry_form(given_name="", family_name="")))
    with_names = client.post("/direct-entry/recorded", data=form(person, **_entry_form()))

    assert without.status_code == 200 and "data-names-needed" in without.text
    assert "data-names-needed" not in with_names.text
    assert "Type the learner's given and family" in client.get("/direct-entry").text


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
    assert 'href="#uln">The ULN&#39;s check digit is wrong (RV002)' in entry.text
    assert not portal.sent_to("GET", "plr-projector/v1/ao/achievements")


def test_a_name_of_35_characters_written_decomposed_is_taken_as_the_rules_take_it() -> None:
    """Counted as the rules count a name (its composed form, decision 0167): 34 letters and an e with a combining
    acute accent are 35 characters, though 36 code points; the learner's page and its buttons take it."""
    decomposed = "A" * 34 + "e\u0301"
    client, page = _learner_page(ACHIEVEMENT, given_name=decomposed)
    update = buttons(page)["Update"]

    entry = client.post(update.action, data=update.fields)

    assert entry.status_code == 200
    assert _filled(entry.text, "given_name") == decomposed


def test_a_bookmarked_address_names_the_learner_as_the_rules_count_names() -> None:
    """`GET /direct-entry?given_name=...` counts a name composed too: 35 decomposed letters (70 code points) fill
    the form; 36 composed ones are too long for the field, as any other value too long for its field is."""
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.AO)
    decomposed = "e\u0301" * 35

    filled = client.get("/direct-entry", params={"action": "Update", "given_name": decomposed, "family_name": "Lee"})
    too_long = client.get("/direct-entry", params={"given_name": "e\u0301" * 36})

    assert filled.status_code == 200
    assert _filled(filled.text, "given_name") == decomposed
    assert too_long.status_code == 404
