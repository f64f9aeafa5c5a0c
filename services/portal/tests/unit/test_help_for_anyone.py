"""Every page's footer links the accessibility statement, the privacy page and the way to reach the LRS service desk,
which anyone can open, signed in or not (a locked-out person needs them most); the desk's details are settings, and
the messages that send people to an LRS operator say how to reach one."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal, with_a_sandpit

from portal import bootstrap
from portal.accounts import Role
from portal.config import PortalSettings
from portal.csrf import FIELD
from portal.store import UPLOADS_WAITING_A_PERSON
from portal.web import auth_pages, help_pages

HELP_LINKS = {
    "/help/accessibility": "Accessibility statement",
    "/help/privacy": "Privacy",
    "/help/contact": "Contact the LRS service desk",
}
DESK = {
    "support_email": "lrs-desk@lrs.example",
    "support_phone": "0300 123 4567",
    "support_hours": "Monday to Friday, 9am to 5pm",
}
SUFFIX = " \u2013 LRS Organisation Portal"


def footer_links(page: str) -> dict[str, str]:
    found = re.search(r"<ul class=\"govuk-footer__inline-list\"[^>]*>(.*?)</ul>", page, re.DOTALL)
    assert found is not None, "the footer lists its links"
    return dict(re.findall(r'<a class="govuk-footer__link" href="([^"]+)">([^<]+)</a>', found.group(1)))


def words(html: str) -> str:
    """The text a person reads, a table's cells apart."""
    text = re.sub(r"<[^>]+>", "", re.sub(r"</t[dh]>", " ", html))
    return re.sub(r"\s+", " ", text).replace("&#39;", "'").strip()


def title_and_heading(page: str) -> tuple[str, str]:
    title = re.search(r"<title>(.*?)</title>", page, re.DOTALL)
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.DOTALL)
    assert title is not None and heading is not None
    return title.group(1), heading.group(1)


def paragraph_with(page: str, text: str) -> str:
    """The <p> whose words hold `text`, as HTML."""
    for found in re.findall(r"<p[ >].*?</p>", page, re.DOTALL):
        if text in words(found):
            return str(found)
    raise AssertionError(f"no paragraph says {text!r}")


def with_desk(portal: StubbedPortal, **desk: Any) -> StubbedPortal:
    settings = PortalSettings(cookie_secure=False, log_json=False, log_level="warning", **desk)
    portal.app.state.portal = dataclasses.replace(portal.app.state.portal, settings=settings)
    return portal


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_a_signed_out_page_links_the_help_pages_in_its_footer(portal: StubbedPortal) -> None:
    client = portal.client()

    for path in ("/sign-in", "/account/forgotten-password", "/no-such-page"):
        assert footer_links(client.get(path).text) == HELP_LINKS, path


@pytest.mark.parametrize("role", [Role.AO, Role.OPERATOR])
def test_a_signed_in_page_links_the_help_pages_in_its_footer(portal: StubbedPortal, role: Role) -> None:
    client, _ = portal.signed_in(role)

    shown = client.get("/account/password")

    assert shown.status_code == 200 and footer_links(shown.text) == HELP_LINKS


@pytest.mark.parametrize("path", list(HELP_LINKS))
def test_each_help_page_opens_for_someone_signed_out_titled_as_its_heading(portal: StubbedPortal, path: str) -> None:
    shown = portal.client().get(path)

    title, heading = title_and_heading(shown.text)
    assert shown.status_code == 200 and title == f"{heading}{SUFFIX}"
    assert "Signed in as" not in shown.text and footer_links(shown.text) == HELP_LINKS


def test_a_help_page_keeps_a_signed_in_persons_menu(portal: StubbedPortal) -> None:
    client, session = portal.signed_in()

    shown = client.get("/help/contact")

    assert shown.status_code == 200 and f"Signed in as <strong>{session.account.display_name}</strong>" in shown.text
    assert 'href="/batches/new"' in shown.text  # the AO's menu


def test_a_help_page_opens_signed_out_while_the_portals_database_is_away(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = portal.signed_in()

    async def away(token: str | None) -> None:
        raise ConnectionRefusedError("the portal's database is away")

    monkeypatch.setattr(portal.auth, "session_for", away)

    shown = client.get("/help/contact")

    assert shown.status_code == 200 and "Signed in as" not in shown.text


def test_the_sandpits_pages_link_the_help_pages_in_the_sandpit(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_a_sandpit(portal, monkeypatch)
    client, _ = portal.signed_in()
    in_the_sandpit = {f"/sandpit{path}": label for path, label in HELP_LINKS.items()}

    guide = client.get("/sandpit/help/batch-files")
    statement = client.get("/sandpit/help/accessibility")

    assert footer_links(guide.text) == in_the_sandpit
    title, heading = title_and_heading(statement.text)
    assert statement.status_code == 200 and title == f"SANDPIT: {heading}{SUFFIX}"
    assert 'data-environment="sandpit"' in statement.text and footer_links(statement.text) == in_the_sandpit


@pytest.mark.parametrize("signed_in_as", [None, Role.OPERATOR])
def test_whoever_has_no_sandpit_is_sent_to_the_help_page_outside_it(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch, signed_in_as: Role | None
) -> None:
    with_a_sandpit(portal, monkeypatch)
    client = portal.client() if signed_in_as is None else portal.signed_in(signed_in_as)[0]

    sent = client.get("/sandpit/help/contact")

    assert (sent.status_code, sent.headers["location"]) == (303, "/help/contact")


def test_without_the_desks_details_the_contact_page_says_whom_to_ask(portal: StubbedPortal) -> None:
    shown = portal.client().get("/help/contact")

    said = words(shown.text)
    assert "This portal has not been given the LRS service desk's details" in said
    assert "organisation that gave you your account" not in said  # the LRS did: she was sent back to where she was
    assert "mailto:" not in shown.text and "Telephone" not in said


def test_the_contact_page_gives_the_desks_address_phone_and_hours(portal: StubbedPortal) -> None:
    with_desk(portal, **DESK)

    shown = portal.client().get("/help/contact")
    statement = portal.client().get("/help/accessibility")

    said = words(shown.text)
    assert '<a class="govuk-link" href="mailto:lrs-desk@lrs.example">lrs-desk@lrs.example</a>' in shown.text
    assert '<p class="govuk-body" data-support="phone">0300 123 4567</p>' in shown.text
    assert "Telephone: " not in said  # under its heading "Telephone", the number is not labelled again
    assert "The service desk answers Monday to Friday, 9am to 5pm." in said
    assert "has not been given the LRS service desk's details" not in said
    assert 'href="mailto:lrs-desk@lrs.example"' in statement.text  # how to report a problem with accessibility


def test_the_contact_page_gives_the_desks_address_alone(portal: StubbedPortal) -> None:
    with_desk(portal, support_email=DESK["support_email"])

    shown = portal.client().get("/help/contact")

    assert 'href="mailto:lrs-desk@lrs.example"' in shown.text
    assert "Telephone" not in words(shown.text) and "answers" not in words(shown.text)


def test_the_desks_details_are_checked_as_the_portal_starts() -> None:
    base: dict[str, Any] = {"cookie_secure": False}

    with pytest.raises(ValidationError, match="PORTAL_SUPPORT_EMAIL must be one email address"):
        PortalSettings(**base, support_email="desk@lrs.example, other@lrs.example")
    with pytest.raises(ValidationError, match="control character"):
        PortalSettings(**base, support_hours="9am\x07 to 5pm")
    blank = PortalSettings(**base, support_email=" ", support_phone="", support_hours=" ")
    assert (blank.support_email, blank.support_phone, blank.support_hours) == (None, None, None)
    assert PortalSettings(**base, support_phone="0300 123\n4567").support_phone == "0300 123 4567"


def test_a_refused_sign_in_names_the_contact_page_that_the_page_links(portal: StubbedPortal) -> None:
    client = portal.client()
    client.get("/sign-in")

    refused = client.post(
        "/sign-in",
        data={FIELD: client.cookies.get(portal.cookies.sign_in_cookie) or "", "username": "nia", "password": "x"},
    )

    said = words(refused.text)
    assert refused.status_code == 400
    assert (
        "your account may have been disabled: ask an LRS operator through the LRS service desk"
        " (\u201cContact the LRS service desk\u201d, at the foot of this page)." in said
    )
    assert footer_links(refused.text)["/help/contact"] == "Contact the LRS service desk"


def test_the_forgotten_password_page_without_a_mail_relay_links_the_contact_page(portal: StubbedPortal) -> None:
    shown = portal.client().get("/account/forgotten-password")

    asked = paragraph_with(shown.text, "Ask an LRS operator to reset your password")
    assert '<a class="govuk-link" href="/help/contact">LRS service desk</a>' in asked


def test_the_check_your_email_page_links_the_contact_page() -> None:
    portal = stubbed_portal(sends_reset_links=True)

    shown = portal.client().get("/account/forgotten-password?sent=1")

    asked = paragraph_with(shown.text, "ask an LRS operator to reset your password instead")
    assert '<a class="govuk-link" href="/help/contact">LRS service desk</a>' in asked


def test_the_dashboard_says_how_to_ask_for_an_api_key(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.AO)
    listed = {"items": [], "total": 0, "page": 1, "page_size": 8}
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=listed))

    home = client.get("/")

    keys = paragraph_with(home.text, "are issued only by the LRS operators")
    assert '<a class="govuk-link" href="/help/contact">Contact the LRS service desk</a>' in keys


def test_the_privacy_page_says_what_the_code_keeps_and_for_how_long(portal: StubbedPortal) -> None:
    settings = portal.app.state.portal.settings
    kept_hours = help_pages.UPLOADS_KEPT_HOURS

    said = words(portal.client().get("/help/privacy").text)

    assert kept_hours * 3600 == bootstrap._UPLOADS_KEPT.total_seconds()
    assert f"It keeps at most {UPLOADS_WAITING_A_PERSON} of your checked files waiting" in said
    assert f"none longer than {kept_hours} hours" in said
    assert f"after {settings.session_idle_minutes} minutes without using the portal" in said
    assert f"or {settings.session_absolute_hours} hours after you signed in" in said
    assert f"A link works for {settings.reset_link_minutes} minutes." in said
    assert f"{portal.cookies.session_cookie} Keeps you signed in" in said
    assert f"{portal.cookies.sign_in_cookie} Makes sure the forms" in said
    assert f"After {auth_pages.FORM_COOKIE_SECONDS // 60} minutes, or when you choose a password through" in said
