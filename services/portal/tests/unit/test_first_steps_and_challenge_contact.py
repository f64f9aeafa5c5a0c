"""A new AO's first sign-in says what to do first, and an AO without a challenge contact is told that nobody is emailed
about its learners' challenges (the onboarding walk, findings 3 and 4): on the dashboard and the challenges inbox,
never when the notifier says it has one, and nothing either way when the notifier does not answer. The menu leads to
Batch file formats, the account bar names the AO, and the sign-in and service desk pages send people to the LRS
service desk (finding 10)."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import AO_ID, StubbedPortal, stubbed_portal, with_a_sandpit

from portal.accounts import Role
from portal.config import PortalSettings

ROOT = Path(__file__).resolve().parents[4]
CONTACT = {
    "ao_id": AO_ID,
    "given_name": "Ada",
    "family_name": "Byron",
    "telephone": "01632 960 001",
    "email": "ada@ao.example",
    "updated_at": "2026-12-03T14:00:00Z",
}
CONTACT_PATH = f"notifier/v1/ao/{AO_ID}/challenge-contact"
NOBODY_EMAILED = "Nobody is emailed when a learner challenges your results: set your challenge contact."
EMAILED_TO_CONTACT = "Learners' challenges are emailed to your challenge contact."
NO_BATCHES = {"items": [], "total": 0, "page": 1, "page_size": 8}
ONE_BATCH = {
    "items": [
        {
            "batch_id": "0b6f3c1e-8f4a-4d52-9a0e-2f9c6a1d7e35",
            "status": "completed",
            "batch_reference": "REF",
            "received_at": "2026-11-30T11:00:00Z",
            "decided_at": "2026-11-30T11:00:05Z",
            "format": "csv",
            "failure_code": None,
            "refusal": None,
            "counts": {"total": 1, "accepted": 1, "rejected": 0, "no_ops": 0, "warnings": 0},
        }
    ],
    "total": 1,
    "page": 1,
    "page_size": 8,
}


def words(html: str) -> str:
    text = re.sub(r"<[^>]+>", "", html)
    return re.sub(r"\s+", " ", text).replace("&#39;", "'").strip()


ENDS = {"data-getting-started": "</section>", "data-no-challenge-contact": "<h1"}  # the banner comes before the heading


def section(html: str, marker: str) -> str:
    """The part of the page `marker` starts, as HTML: the Getting started panel, or the notice."""
    assert marker in html, f"nothing is marked {marker}"
    start = html.index(marker)
    return html[start : html.index(ENDS[marker], start)]


def steps(html: str) -> dict[str, str]:
    """The Getting started steps, by their name: each one's words and the links it holds."""
    return {
        name: words(body) + " " + " ".join(re.findall(r'href="([^"]+)"', body))
        for name, body in re.findall(r'<li data-step="([^"]+)">(.*?)</li>', section(html, "data-getting-started"), re.S)
    }


def _contact(portal: StubbedPortal, answer: str) -> None:
    """The notifier's answer about the AO's contact: `set`, `none` (404), or `away` (it did not answer)."""

    def respond(request: httpx.Request) -> httpx.Response:
        if answer == "away":
            raise httpx.ConnectError("the notifier is away", request=request)
        if answer == "none":
            return httpx.Response(404, json={"title": "Not found"})
        return httpx.Response(200, json=CONTACT)

    portal.on("GET", CONTACT_PATH, respond)


def _home(portal: StubbedPortal, contact: str, batches: dict[str, object]) -> str:
    client, _ = portal.signed_in(Role.AO)
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=batches))
    portal.on("GET", "challenges/v1/challenges/open-counts", lambda _: httpx.Response(503, json={"title": "Away"}))
    _contact(portal, contact)
    home = client.get("/")
    assert home.status_code == 200
    page: str = home.text
    return page


def _inbox(portal: StubbedPortal, contact: str) -> str:
    client, _ = portal.signed_in(Role.AO)
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))
    _contact(portal, contact)
    inbox = client.get("/challenges")
    assert inbox.status_code == 200
    page: str = inbox.text
    return page


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_a_new_ao_without_a_contact_is_given_the_first_steps_in_order(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_a_sandpit(portal, monkeypatch)

    home = _home(portal, "none", NO_BATCHES)

    shown = steps(home)
    assert list(shown) == ["contact", "formats", "sandpit", "live"]
    assert (
        shown["contact"].startswith("Set your challenge contact: the person we email")
        and "/contact" in shown["contact"]
    )
    assert "Batch file formats and download a template" in shown["formats"] and "/help/batch-files" in shown["formats"]
    assert "Try your file in the Sandpit" in shown["sandpit"] and shown["sandpit"].endswith("/sandpit")
    assert "Upload it live" in shown["live"] and "/batches/new" in shown["live"]
    assert "Getting started" in words(section(home, "data-getting-started"))
    assert NOBODY_EMAILED in words(section(home, "data-no-challenge-contact"))


def test_without_a_sandpit_the_first_steps_do_not_send_her_to_one(portal: StubbedPortal) -> None:
    home = _home(portal, "none", NO_BATCHES)

    assert list(steps(home)) == ["contact", "formats", "live"]


def test_a_new_ao_with_a_contact_is_not_asked_to_set_one(portal: StubbedPortal) -> None:
    home = _home(portal, "set", NO_BATCHES)

    assert list(steps(home)) == ["formats", "live"]
    assert "data-no-challenge-contact" not in home and "Nobody is emailed" not in words(home)


def test_an_ao_with_batches_and_a_contact_sees_no_first_steps_and_no_notice(portal: StubbedPortal) -> None:
    home = _home(portal, "set", ONE_BATCH)

    assert "data-getting-started" not in home and "Getting started" not in home
    assert "data-no-challenge-contact" not in home


def test_an_ao_with_batches_but_no_contact_is_told_nobody_is_emailed(portal: StubbedPortal) -> None:
    home = _home(portal, "none", ONE_BATCH)

    assert "data-getting-started" not in home
    notice = section(home, "data-no-challenge-contact")
    assert NOBODY_EMAILED in words(notice) and 'href="/contact"' in notice
    assert "Challenges raised meanwhile are not lost" in words(notice)


@pytest.mark.parametrize("answer", ["away", "unavailable"])
def test_when_the_notifier_does_not_answer_the_dashboard_claims_nothing_about_the_contact(
    portal: StubbedPortal, answer: str
) -> None:
    if answer == "unavailable":
        portal.on("GET", CONTACT_PATH, lambda _: httpx.Response(503, json={"title": "Away"}))
        client, _ = portal.signed_in(Role.AO)
        portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=NO_BATCHES))
        home = client.get("/").text
    else:
        home = _home(portal, "away", NO_BATCHES)

    assert "data-no-challenge-contact" not in home and "Nobody is emailed" not in words(home)
    assert steps(home)["contact"].startswith("Make sure you have a challenge contact")
    assert "Recent batches" in home


def test_the_inbox_says_nobody_is_emailed_while_there_is_no_contact(portal: StubbedPortal) -> None:
    inbox = _inbox(portal, "none")

    assert NOBODY_EMAILED in words(section(inbox, "data-no-challenge-contact"))
    assert EMAILED_TO_CONTACT not in words(inbox)


def test_the_inbox_says_challenges_are_emailed_to_the_contact_only_when_there_is_one(portal: StubbedPortal) -> None:
    inbox = _inbox(portal, "set")

    assert EMAILED_TO_CONTACT in words(inbox)
    assert "data-no-challenge-contact" not in inbox


def test_the_inbox_claims_nothing_when_the_notifier_does_not_answer(portal: StubbedPortal) -> None:
    inbox = _inbox(portal, "away")

    said = words(inbox)
    assert EMAILED_TO_CONTACT not in said and "Nobody is emailed" not in said
    assert "Your challenge contact is the person we email about learners' challenges." in said


def test_the_menu_leads_to_batch_file_formats_live_and_in_the_sandpit(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_a_sandpit(portal, monkeypatch)
    client, _ = portal.signed_in(Role.AO)
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=NO_BATCHES))
    portal.on("GET", "sandpit-ingest/v1/batches", lambda _: httpx.Response(200, json=NO_BATCHES))

    live = client.get("/help/batch-files").text
    sandpit = client.get("/sandpit/help/batch-files").text

    menu = '<a class="govuk-service-navigation__link" href="{}" aria-current="page">File formats</a>'
    assert menu.format("/help/batch-files") in live
    assert menu.format("/sandpit/help/batch-files") in sandpit


def test_an_operators_menu_has_no_batch_file_formats(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({"support"}))

    assert "File formats</a>" not in client.get("/ops/batches").text


def test_the_ao_is_named_beside_its_id_in_the_account_bar_and_the_dashboard_heading(portal: StubbedPortal) -> None:
    named = dataclasses.replace(portal.app.state.portal, ao_names={AO_ID: "NCTJ Training"})
    portal.app.state.portal = named

    home = _home(portal, "set", ONE_BATCH)

    assert f'<h1 class="govuk-heading-l">{AO_ID} NCTJ Training dashboard</h1>' in home
    assert f"for {AO_ID} NCTJ Training</p>" in home


def test_an_ao_the_register_does_not_name_is_shown_by_its_id(portal: StubbedPortal) -> None:
    home = _home(portal, "set", ONE_BATCH)

    assert f'<h1 class="govuk-heading-l">{AO_ID} dashboard</h1>' in home


def test_sign_in_sends_people_to_the_lrs_service_desk_for_an_account(portal: StubbedPortal) -> None:
    page = portal.client().get("/sign-in").text

    assert "To get an account, ask the LRS service desk." in words(page)
    assert 'ask the <a class="govuk-link" href="/help/contact">LRS service desk</a>' in page
    assert "operator for an account" not in page


def _make_up_desk() -> dict[str, str]:
    """The service desk settings scripts/dev/up.sh writes to .run/env, as a shell that sources it has them."""
    script = (ROOT / "scripts/dev/up.sh").read_text()
    found = re.search(r"^ *for setting in PORTAL_SUPPORT NOTIFIER_SERVICE_DESK; do\n.*?^ *done\n", script, re.M | re.S)
    assert found is not None, "up.sh writes the service desk's settings"
    done = subprocess.run(
        ["env", "-i", f"PATH={os.environ['PATH']}", "bash", "-c", f'eval "$(\n{found.group(0)})" && env -0'],
        capture_output=True,
        check=True,
        timeout=60,
    )
    pairs = (entry.decode().split("=", 1) for entry in done.stdout.split(b"\0") if entry)
    return {key: value for key, value in pairs if "SUPPORT" in key or "SERVICE_DESK" in key}


def test_make_up_gives_the_portal_and_the_notifier_a_service_desk(monkeypatch: pytest.MonkeyPatch) -> None:
    desk = _make_up_desk()
    for name, value in desk.items():
        monkeypatch.setenv(name, value)

    settings = PortalSettings()

    assert (settings.support_email, settings.support_phone, settings.support_hours) == (
        "lrs-desk@lrs.example",
        "0808 157 0900",
        "Monday to Friday, 9am to 5pm",
    )
    for name in ("EMAIL", "PHONE", "HOURS"):
        assert desk[f"NOTIFIER_SERVICE_DESK_{name}"] == desk[f"PORTAL_SUPPORT_{name}"]
