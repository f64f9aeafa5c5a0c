"""A look-up refused (POST /learners) and the direct-entry form filled in from a learner's page (POST
/direct-entry/prefilled) are answers to a POST, kept out of the browser's cache (no-store): with script, Back and
reload ask the empty form by GET, as after the check of a file, not "Confirm form resubmission" sending the ULN and
the names again. A learner found is shown by GET after a redirect (test_learner_looked_up_by_get.py), unmarked."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import form, keeping_sandpit_keys, stubbed_portal
from services.portal.tests.unit.test_learner_update_link import ACHIEVEMENT, ULN, answering, buttons

import portal
from portal.accounts import Role
from portal.backend import Services

SCRIPT = Path(portal.__file__).parent / "static" / "portal.js"


def marker(html: str) -> str | None:
    """The value of the page's `data-drawn-from-post` marker ("" when it has none); None without one."""
    found = re.search(r'<h1[^>]*?\sdata-drawn-from-post(?:="([^"]*)")?[^>]*>', html)
    return None if found is None else found.group(1) or ""


def test_a_look_up_refused_is_marked_as_drawn_from_a_post_and_the_empty_form_and_a_learner_found_are_not() -> None:
    stub = stubbed_portal()
    client, person = stub.signed_in(Role.AO)
    answering(stub, ACHIEVEMENT)

    empty = client.get("/learners")
    found = client.post("/learners", data=form(person, uln=ULN), follow_redirects=True)
    refused = client.post("/learners", data=form(person, uln="12345"))

    assert empty.status_code == 200 and marker(empty.text) is None
    assert found.status_code == 200 and marker(found.text) is None  # a GET's answer: Back and reload ask it again
    assert refused.status_code == 400 and marker(refused.text) == ""  # asked again at its own address: the empty form


def test_direct_entry_filled_in_from_the_learner_page_is_asked_again_at_the_forms_own_address() -> None:
    stub = stubbed_portal()
    client, person = stub.signed_in(Role.AO)
    answering(stub, ACHIEVEMENT)
    found = client.post(
        "/learners", data=form(person, uln=ULN, given_name="Ann", family_name="Lee"), follow_redirects=True
    )
    update = buttons(found.text)

    filled = client.post(update["Update"].action, data=update["Update"].fields)
    empty = client.get("/direct-entry")
    by_address = client.get("/direct-entry", params={"action": "Withdraw", "qualification_number": "60190541"})

    assert filled.status_code == 200 and marker(filled.text) == "/direct-entry"  # not /direct-entry/prefilled
    assert marker(empty.text) is None and marker(by_address.text) is None  # a GET: Back and reload ask it again


def test_the_sandpits_form_is_asked_again_at_the_sandpits_address(monkeypatch: pytest.MonkeyPatch) -> None:
    stub = stubbed_portal()
    sandpit_urls = {name: f"http://sandpit-{name}" for name in ("ingest", "plr-projector", "validation")}
    sandpit = Services(sandpit_urls, httpx.AsyncClient(transport=httpx.MockTransport(stub.answer)))
    stub.app.state.portal = dataclasses.replace(stub.app.state.portal, sandpit=sandpit)
    keeping_sandpit_keys(stub, monkeypatch)
    answering(stub, ACHIEVEMENT, host="sandpit-")
    client, person = stub.signed_in(Role.AO)

    found = client.post("/sandpit/learners", data=form(person, uln=ULN), follow_redirects=True)
    withdraw = buttons(found.text)["Withdraw"]
    filled = client.post(withdraw.action, data=withdraw.fields)

    assert str(found.url).startswith("http://testserver/sandpit/learners/found/") and marker(found.text) is None
    assert filled.status_code == 200 and marker(filled.text) == "/sandpit/direct-entry"


def test_the_script_asks_the_markers_address_when_it_names_one_else_the_pages_own() -> None:
    script = SCRIPT.read_text()
    handler = script.split('document.querySelector("[data-drawn-from-post]")', 1)[1].split("\n}\n", 1)[0]

    assert "window.history.replaceState(" in handler
    assert "drawnFromPost.dataset.drawnFromPost || window.location.href" in handler
