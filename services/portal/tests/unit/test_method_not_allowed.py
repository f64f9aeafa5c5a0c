"""An address opened with a method it does not answer (405) is the portal's own page, with its Allow header;
the admin API answers problem+json."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

from portal.accounts import Role


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_opening_a_forms_address_as_a_link_is_the_portals_page(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)

    page = client.get("/ops/keys")

    assert page.status_code == 405
    assert page.headers["allow"] == "POST"
    assert page.headers["content-type"].startswith("text/html")
    assert "This page cannot do that" in page.text and "Nothing was changed" in page.text
    assert 'href="/ops"' in page.text  # the signed-in operator's start page


def test_a_form_sent_to_a_page_without_one_is_the_portals_page(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)

    page = client.post("/ops/accounts/changes")

    assert page.status_code == 405 and page.headers["allow"] == "GET, HEAD"
    assert "This page cannot do that" in page.text


def test_the_admin_api_answers_a_method_it_does_not_answer_with_a_problem(portal: StubbedPortal) -> None:
    answer = portal.client().get("/v1/admin/users/kai/disable")

    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["allow"] == "POST"
    assert answer.json()["status"] == 405


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/sign-in", "GET, HEAD, POST"),  # the page and its form: two routes at one path
        ("DELETE", "/ops/accounts/kai/duties", "GET, HEAD, POST"),  # and the accounts' actions, /{username}/{action}
        ("GET", "/ops/accounts/kai/email-link", "POST"),
        ("DELETE", "/ops/accounts/kai/disable", "GET, HEAD, POST"),  # its confirmation page and its form
        ("DELETE", "/ops/accounts", "GET, HEAD, POST"),
    ],
)
def test_a_pages_allow_names_every_method_its_routes_answer(
    portal: StubbedPortal, method: str, path: str, allowed: str
) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)

    page = client.request(method, path)

    assert page.status_code == 405 and page.headers["allow"] == allowed
    assert "This page cannot do that" in page.text


def test_a_page_answers_head_as_its_get_without_the_body(portal: StubbedPortal) -> None:
    """FastAPI's routes answer no HEAD of themselves (405 before): a link checker may ask for a page's headers."""
    page = portal.client().get("/sign-in")
    head = portal.client().head("/sign-in")

    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == page.headers["content-type"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("DELETE", "/v1/admin/users", "GET, HEAD, POST"), ("GET", "/v1/admin/users/kai/enable", "POST")],
)
def test_the_admin_apis_allow_names_every_method_its_routes_answer(
    portal: StubbedPortal, method: str, path: str, allowed: str
) -> None:
    answer = portal.client().request(method, path)

    assert (answer.status_code, answer.headers["allow"]) == (405, allowed)
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_admin_apis_405_says_what_the_address_takes(portal: StubbedPortal) -> None:
    problem = portal.client().delete("/v1/admin/users").json()

    assert (problem["code"], problem["detail"]) == ("METHOD_NOT_ALLOWED", "This address takes GET, HEAD, POST.")


@pytest.mark.parametrize(
    ("role", "answer_page", "form_page"),
    [(Role.AO, "/batches/check", "/batches/new"), (Role.OPERATOR, "/ops/erasures/check", "/ops/erasures")],
)
def test_a_page_drawn_as_a_forms_answer_asked_by_get_leads_to_its_form(
    portal: StubbedPortal, role: Role, answer_page: str, form_page: str
) -> None:
    """Back to a check or confirmation page asks its address by GET (the page's script replaces the POST's history
    entry): the form it came from, not 405."""
    client, _ = portal.signed_in(role)

    page = client.get(answer_page, follow_redirects=False)

    assert (page.status_code, page.headers["location"]) == (303, form_page)
